; PhiDesk installer for Windows (NSIS 3, Unicode).
;
; Per-user install into %LOCALAPPDATA%\Programs\PhiDesk: no administrator rights, no UAC prompt.
; Start-menu shortcut always, desktop shortcut if the user ticks it. The uninstaller keeps the
; user's chats, settings and logs (%LOCALAPPDATA%\PhiDesk) unless the user ticks "Also delete".
;
; Build (on Windows, after PyInstaller made dist\phidesk):
;   makensis /NOCD /DVERSION=0.1.0 /DPAYLOAD=build\dist\phidesk /DICON=build\icons\phidesk.ico ^
;            /DOUTFILE=build\dist\PhiDesk-0.1.0-Setup.exe installer\windows\phidesk.nsi
; packaging/build's checks compile it on Linux with Debian's makensis against a stub payload.

Unicode true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!ifndef VERSION
  !error "pass /DVERSION=x.y.z (PhiDesk's version, from app/__init__.py)"
!endif
!ifndef PAYLOAD
  !error "pass /DPAYLOAD=path\to\the\PyInstaller\one-folder\bundle"
!endif
!ifndef ICON
  !error "pass /DICON=path\to\phidesk.ico (packaging/icons.py renders it)"
!endif
!ifndef OUTFILE
  !define OUTFILE "PhiDesk-${VERSION}-Setup.exe"
!endif

!define APP_NAME "PhiDesk"
!define APP_EXE "phidesk.exe"
!define PUBLISHER "PhiDesk developers"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\PhiDesk"
; Where platformdirs puts PhiDesk's data, settings, logs and cache on Windows (app/config.py).
!define USER_DATA "$LOCALAPPDATA\PhiDesk"

Name "${APP_NAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${APP_NAME} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "MIT License"

!include "MUI2.nsh"
!include "FileFunc.nsh"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

Section "${APP_NAME}" SecApp
  SectionIn RO
  ; An upgrade replaces the program folder whole, so files a newer build dropped do not linger.
  RMDir /r "$INSTDIR\_internal"
  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD}\*.*"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateShortCut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

; Unticked by default (/o): a desktop shortcut only when asked for.
Section /o "Desktop shortcut" SecDesktop
  CreateShortCut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
SectionEnd

Section "un.${APP_NAME}" UnSecApp
  SectionIn RO
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\phidesk-cli.exe"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd

; Chats are the user's data: they stay unless this box is ticked (a silent /S uninstall keeps them).
Section /o "un.Also delete my chats, settings and logs (${USER_DATA})" UnSecUserData
  RMDir /r "${USER_DATA}"
SectionEnd
