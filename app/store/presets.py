"""Presets: named system prompts, with unique names."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from app.store.convert import to_preset
from app.store.errors import DuplicateName, NotFound
from app.store.models import PresetRow, utcnow
from app.store.records import UNSET, Preset, _Unset
from app.store.transactions import Transactions


class PresetQueries(Transactions):
    """The preset part of `Database`."""

    def create_preset(self, name: str, text: str) -> Preset:
        now = utcnow()
        try:
            with self._writing() as session:
                row = PresetRow(name=name, text=text, created_at=now, updated_at=now)
                session.add(row)
                session.flush()
                return to_preset(row)
        except sa.exc.IntegrityError as exc:
            raise DuplicateName(
                f"a preset named {name!r} exists already; pick another name"
            ) from exc

    def list_presets(self) -> list[Preset]:
        with self._reading() as session:
            rows = session.scalars(sa.select(PresetRow).order_by(PresetRow.name)).all()
            return [to_preset(row) for row in rows]

    def get_preset(self, preset_id: int) -> Preset:
        with self._reading() as session:
            row = session.get(PresetRow, preset_id)
            if row is None:
                raise NotFound(f"preset {preset_id} does not exist")
            return to_preset(row)

    def update_preset(
        self, preset_id: int, *, name: str | _Unset = UNSET, text: str | _Unset = UNSET
    ) -> Preset:
        try:
            with self._writing() as session:
                row = session.get(PresetRow, preset_id)
                if row is None:
                    raise NotFound(f"preset {preset_id} does not exist")
                if not isinstance(name, _Unset):
                    row.name = name
                if not isinstance(text, _Unset):
                    row.text = text
                row.updated_at = utcnow()
                session.flush()
                return to_preset(row)
        except sa.exc.IntegrityError as exc:
            raise DuplicateName(
                f"a preset named {name!r} exists already; pick another name"
            ) from exc

    def delete_preset(self, preset_id: int) -> None:
        with self._writing() as session:
            result = session.execute(sa.delete(PresetRow).where(PresetRow.id == preset_id))
            if cast(sa.CursorResult[Any], result).rowcount == 0:
                raise NotFound(f"preset {preset_id} does not exist")
