# Sign files with signtool and an RFC 3161 timestamp. The certificate comes from the environment:
#   WINDOWS_CERTIFICATE           base64 of a .pfx (code-signing certificate)
#   WINDOWS_CERTIFICATE_PASSWORD  its password
# Usage: ./installer/windows/sign.ps1 FILE [FILE ...]
param([Parameter(Mandatory = $true, ValueFromRemainingArguments = $true)][string[]]$Files)
$ErrorActionPreference = "Stop"
$pfx = Join-Path $env:RUNNER_TEMP "phidesk-signing.pfx"
[IO.File]::WriteAllBytes($pfx, [Convert]::FromBase64String($env:WINDOWS_CERTIFICATE))
try {
    $signtool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
        Sort-Object FullName | Select-Object -Last 1
    & $signtool.FullName sign /f $pfx /p $env:WINDOWS_CERTIFICATE_PASSWORD /fd sha256 `
        /tr http://timestamp.digicert.com /td sha256 @Files
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
} finally {
    Remove-Item $pfx -ErrorAction SilentlyContinue
}
