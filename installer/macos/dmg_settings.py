"""dmgbuild settings for PhiDesk's disk image (macOS only).

    dmgbuild -s installer/macos/dmg_settings.py \
        -D app=build/dist/PhiDesk.app -D icon=build/icons/phidesk.icns \
        "PhiDesk" build/dist/PhiDesk-0.1.0.dmg

dmgbuild executes this file with `defines` (the -D values) in scope; the names assigned here
are its settings. The image shows PhiDesk.app beside a link to /Applications, to drag onto.
Sign the .app before building the image and notarise the image after (installer/README.md).
"""

# ruff: noqa: F821 - dmgbuild provides `defines`
import os.path

application = defines.get("app", "build/dist/PhiDesk.app")
app_name = os.path.basename(application)

format = "UDZO"  # zlib-compressed, read-only: opens on every supported macOS
compression_level = 9
filesystem = "APFS"
size = None  # dmgbuild measures the contents

files = [application]
symlinks = {"Applications": "/Applications"}
icon = defines.get("icon")  # the volume's icon: the app's icon set

show_status_bar = False
show_tab_view = False
show_toolbar = False
show_pathbar = False
show_sidebar = False
default_view = "icon-view"
window_rect = ((200, 160), (560, 320))
icon_size = 112
text_size = 13
arrange_by = None
icon_locations = {app_name: (140, 140), "Applications": (420, 140)}
background = "builtin-arrow"
