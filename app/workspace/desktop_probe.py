"""What the doctor can tell about the desktop session without Qt: is there a tray, and can a
global shortcut be had (an X11 key grab, the Wayland GlobalShortcuts portal, or nothing)?

It reads the environment (DISPLAY, WAYLAND_DISPLAY, XDG_SESSION_TYPE) and asks D-Bus and the X
server short questions; it never registers anything. Without a display both answers are
"unknown": the doctor may be running over ssh, far from the desktop the window will use. Each
probe returns a `Finding`: (status, detail, advice), with status "ok", "warning" or "unknown".
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

DBUS_SECONDS = 2.0
"""How long the desktop may take to answer one question (D-Bus, the X server)."""
STATUS_NOTIFIER_WATCHER = "org.kde.StatusNotifierWatcher"
PORTAL_BUS_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS_INTERFACE = "org.freedesktop.portal.GlobalShortcuts"

NO_DISPLAY = "this session has no display (DISPLAY and WAYLAND_DISPLAY are unset)"
FROM_THE_DESKTOP = "run phidesk doctor in a terminal of your desktop, or use Help > Diagnose"
NO_TRAY = (
    "warning",
    "this desktop shows no tray icons, so PhiDesk quits when its window closes",
    "on GNOME, install the AppIndicator extension; the quick prompt works without a tray",
)
BIND_QUICK = "bind the command “phidesk quick” in your desktop's keyboard settings"

type Finding = tuple[str, str, str]


def _dbus(call: Callable[[Any], Any]) -> Any:
    """`call(connection)` on the session bus; raises when there is no bus to talk to."""
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped,unused-ignore]

    with open_dbus_connection("SESSION", auth_timeout=DBUS_SECONDS) as connection:
        return call(connection)


def name_has_owner(name: str) -> bool:
    from jeepney import message_bus  # type: ignore[import-untyped,unused-ignore]

    def ask(connection: Any) -> bool:
        message = message_bus.NameHasOwner(name)
        return bool(connection.send_and_get_reply(message, timeout=DBUS_SECONDS).body[0])

    return bool(_dbus(ask))


def portal_version() -> int | None:
    """The GlobalShortcuts portal's version, or None when the desktop offers none (the same
    question app/gui/hotkeys/portal.py asks before it binds anything)."""
    from jeepney import DBusAddress, MessageType, Properties  # type: ignore[import-untyped,unused-ignore]

    address = DBusAddress(PORTAL_PATH, bus_name=PORTAL_BUS_NAME, interface=SHORTCUTS_INTERFACE)

    def ask(connection: Any) -> int | None:
        message = Properties(address).get("version")
        reply = connection.send_and_get_reply(message, timeout=DBUS_SECONDS)
        if reply.header.message_type == MessageType.error:
            return None
        return int(reply.body[0][1])

    version = _dbus(ask)
    return None if version is None else int(version)


def x_server_listening(display_name: str) -> bool:
    """True if something listens where the X server of `display_name` (`[host]:N[.S]`) should.

    Asked before python-xlib connects, which leaks its socket when nothing answers."""
    host, _, rest = display_name.rpartition(":")
    number = rest.partition(".")[0]
    if not number.isdigit():
        return False
    port = 6000 + int(number)
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        for address in (path, "\0" + path):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
                unix.settimeout(DBUS_SECONDS)
                try:
                    unix.connect(address)
                except OSError:
                    continue
                return True
        if host == "unix":
            return False
    try:
        with socket.create_connection((host or "localhost", port), timeout=DBUS_SECONDS):
            return True
    except OSError:
        return False


def xembed_tray(display_name: str) -> bool:
    """True if an X11 system tray (the XEmbed protocol) owns its selection on the display."""
    from Xlib import display as xdisplay  # type: ignore[import-untyped,unused-ignore]

    connection = xdisplay.Display(display_name)
    try:
        atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
        return bool(connection.get_selection_owner(atom))
    finally:
        connection.close()


def session_type(environ: Mapping[str, str]) -> str:
    """ "Wayland", "X11" or "" (no display), as app/gui/hotkeys chooses its backend."""
    if environ.get("XDG_SESSION_TYPE") == "wayland" or environ.get("WAYLAND_DISPLAY"):
        return "Wayland"
    return "X11" if environ.get("DISPLAY") else ""


def probe_tray(environ: Mapping[str, str], platform: str) -> Finding:
    if platform.startswith("win") or platform == "darwin":
        return "ok", "Windows and macOS always offer one", ""
    session = session_type(environ)
    if not session:
        return "unknown", NO_DISPLAY, FROM_THE_DESKTOP
    try:
        if name_has_owner(STATUS_NOTIFIER_WATCHER):
            return "ok", f"the {session} desktop shows tray icons (StatusNotifier)", ""
    except Exception as exc:  # no session bus, or one that misbehaves
        log.info("doctor: no D-Bus answer about the tray: %s", exc)
    display = environ.get("DISPLAY")
    if display:
        try:
            if not x_server_listening(display):
                raise ConnectionError("no X server answers there")
            if xembed_tray(display):
                return "ok", "the X11 desktop shows tray icons (XEmbed)", ""
        except Exception as exc:  # a display that cannot be opened (over ssh, say)
            log.info("doctor: no X11 answer about the tray: %s", exc)
            return "unknown", f"the display {display} cannot be opened", FROM_THE_DESKTOP
    return NO_TRAY


def probe_shortcut(environ: Mapping[str, str], platform: str) -> Finding:
    if platform.startswith("win") or platform == "darwin":
        return "ok", "PhiDesk registers it with the system when it starts", ""
    session = session_type(environ)
    if not session:
        return "unknown", NO_DISPLAY, FROM_THE_DESKTOP
    if session == "X11":
        return "ok", "X11: PhiDesk grabs the key when it starts", ""
    try:
        version = portal_version()
    except Exception as exc:  # no session bus: no portal either
        log.info("doctor: no D-Bus answer about the shortcuts portal: %s", exc)
        version = None
    if version is None:
        return "warning", "this Wayland desktop offers no global-shortcut portal", BIND_QUICK
    return "ok", f"Wayland: the desktop's GlobalShortcuts portal (version {version}) binds it", ""
