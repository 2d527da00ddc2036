"""Wayland: the XDG desktop portal's GlobalShortcuts interface over the D-Bus session bus.

The desktop, not PhiDesk, owns the key: we ask for a "quick-prompt" shortcut with a preferred
trigger, the desktop may show its own dialog, and what it reports back (`trigger_description`)
is the binding the settings show. KDE Plasma ≥ 5.27 implements it; GNOME only recently and may
refuse apps that are not Flatpaks.

Why jeepney and not QtDBus: BindShortcuts takes an array of structs, a(sa{sv}); QtDBus can only
marshal a struct whose C++ type was registered with qDBusRegisterMetaType, which PySide6 cannot
do ("type 'QDBusArgument' is not registered with D-Bus"). jeepney (pure Python, already here
as a dependency of keyring's Secret Service backend) writes any signature and runs on the
qasync loop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from app.gui.hotkeys.base import Binding, Callback, HotkeyBackend, HotkeyResult

log = logging.getLogger(__name__)

PORTAL_BUS_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
INTERFACE = "org.freedesktop.portal.GlobalShortcuts"
REQUEST_INTERFACE = "org.freedesktop.portal.Request"
SHORTCUT_ID = "quick-prompt"
RESPONSE_SECONDS = 120.0  # the user may be looking at the desktop's confirmation dialog

_TRIGGER_MODIFIERS = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "meta": "LOGO"}


def preferred_trigger(binding: Binding) -> str:
    """The binding in the freedesktop shortcuts notation ("CTRL+ALT+space")."""
    from app.gui.hotkeys.x11 import keysym_name

    mods = [
        _TRIGGER_MODIFIERS[m] for m in ("ctrl", "alt", "shift", "meta") if m in binding.modifiers
    ]
    return "+".join([*mods, keysym_name(binding.key)])


def unavailable_message(detail: str) -> str:
    return (
        f"this desktop offers no global-shortcut portal ({detail}); bind the command "
        "“phidesk quick” in your desktop's keyboard settings instead"
    )


class PortalHotkey(HotkeyBackend):
    name = "portal"

    def __init__(self, bus: str = "SESSION") -> None:
        self.bus = bus
        self._conn: Any = None
        self._router: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._session: str | None = None
        self._closing: asyncio.Future[None] | None = None

    async def _call(self, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        from jeepney import DBusAddress, MessageType, new_method_call  # type: ignore[import-untyped,unused-ignore]

        address = DBusAddress(PORTAL_PATH, bus_name=PORTAL_BUS_NAME, interface=INTERFACE)
        reply = await self._router.send_and_get_reply(
            new_method_call(address, method, signature, body)
        )
        if reply.header.message_type == MessageType.error:
            raise _PortalError(str(reply.body[0]) if reply.body else "error")
        return reply.body

    def _request_path(self, token: str) -> str:
        sender = str(self._router.unique_name).lstrip(":").replace(".", "_")
        return f"{PORTAL_PATH}/request/{sender}/{token}"

    async def _request(
        self, method: str, signature: str, body_without_options: tuple[Any, ...]
    ) -> dict[str, Any]:
        """A portal call that answers through a Request object's Response signal."""
        from jeepney import MatchRule, message_bus  # type: ignore[import-untyped,unused-ignore]
        from jeepney.io.asyncio import Proxy  # type: ignore[import-untyped,unused-ignore]

        token = "phidesk_" + secrets.token_hex(6)
        rule = MatchRule(
            type="signal",
            interface=REQUEST_INTERFACE,
            member="Response",
            path=self._request_path(token),
        )
        await Proxy(message_bus, self._router).AddMatch(rule)
        with self._router.filter(rule) as queue:
            options: dict[str, tuple[str, Any]] = {"handle_token": ("s", token)}
            if method == "CreateSession":
                options["session_handle_token"] = ("s", "phidesk_" + secrets.token_hex(6))
            await self._call(method, signature, (*body_without_options, options))
            message = await asyncio.wait_for(queue.get(), RESPONSE_SECONDS)
        code, results = message.body
        if code != 0:
            raise _PortalError("you cancelled the request" if code == 1 else "the desktop refused")
        return {k: v[1] for k, v in results.items()}

    async def _open(self) -> None:
        from jeepney import DBusAddress, MessageType, Properties  # type: ignore[import-untyped,unused-ignore]
        from jeepney.io.asyncio import DBusRouter, open_dbus_connection  # type: ignore[import-untyped,unused-ignore]

        self._conn = await open_dbus_connection(self.bus)
        self._router = DBusRouter(self._conn)
        address = DBusAddress(PORTAL_PATH, bus_name=PORTAL_BUS_NAME, interface=INTERFACE)
        reply = await self._router.send_and_get_reply(Properties(address).get("version"))
        if reply.header.message_type == MessageType.error:
            raise _PortalError(str(reply.body[0]) if reply.body else "no reply")

    async def register(self, binding: Binding, callback: Callback) -> HotkeyResult:
        await self.aclose()
        try:
            await self._open()
        except (OSError, KeyError, ValueError, _PortalError) as exc:
            log.info("global-shortcut portal unavailable: %s", exc)
            await self.aclose()
            return HotkeyResult(False, unavailable_message(str(exc) or type(exc).__name__))
        try:
            created = await self._request("CreateSession", "a{sv}", ())
            session = str(created["session_handle"])
            shortcut = (
                SHORTCUT_ID,
                {
                    "description": ("s", "Open the PhiDesk quick prompt"),
                    "preferred_trigger": ("s", preferred_trigger(binding)),
                },
            )
            bound = await self._request(
                "BindShortcuts", "oa(sa{sv})sa{sv}", (session, [shortcut], "")
            )
        except (TimeoutError, KeyError, _PortalError) as exc:
            await self.aclose()
            return HotkeyResult(False, f"the desktop did not bind the shortcut ({exc})")
        self._session = session
        trigger = ""
        for shortcut_id, props in bound.get("shortcuts", []):
            if shortcut_id == SHORTCUT_ID and "trigger_description" in props:
                trigger = str(props["trigger_description"][1])
        self._listener = asyncio.ensure_future(self._listen(callback))
        shown = trigger or f"{binding} (as the desktop confirms it)"
        return HotkeyResult(True, f"{shown} opens the quick prompt (desktop portal)", trigger)

    async def _listen(self, callback: Callback) -> None:
        from jeepney import MatchRule, message_bus  # type: ignore[import-untyped,unused-ignore]
        from jeepney.io.asyncio import Proxy  # type: ignore[import-untyped,unused-ignore]

        rule = MatchRule(type="signal", interface=INTERFACE, member="Activated", path=PORTAL_PATH)
        await Proxy(message_bus, self._router).AddMatch(rule)
        with self._router.filter(rule, bufsize=16) as queue:
            while True:
                message = await queue.get()
                session, shortcut_id = message.body[0], message.body[1]
                if session == self._session and shortcut_id == SHORTCUT_ID:
                    callback()

    def unregister(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        self._session = None
        if self._conn is not None:
            # Closing the connection ends the portal session too (the portal drops sessions
            # of clients that leave the bus).
            self._closing = asyncio.ensure_future(self.aclose())

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        self._session = None
        router, conn = self._router, self._conn
        self._router = self._conn = None
        if router is not None:
            await router.__aexit__(None, None, None)
        if conn is not None:
            await conn.close()


class _PortalError(Exception):
    pass
