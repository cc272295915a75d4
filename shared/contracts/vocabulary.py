"""The words of work supervision every service speaks, defined once.

Each word is a ``StrEnum`` for the domains and the API bodies and a ``Literal`` of the same values
for the event contracts (their schemas list the values inline); ``tests/shared`` checks that the
two spell the same values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = [
    "DeliveryMode",
    "DeliveryModeName",
    "QualificationKind",
    "QualificationType",
    "SupervisionForm",
    "SupervisionFormName",
]


class SupervisionForm(StrEnum):
    INDIVIDUAL = "individual"
    """Yksilötyönohjaus."""
    PAIR = "pair"
    """Työparityönohjaus."""
    TEAM = "team"
    """Tiimityönohjaus."""
    GROUP = "group"
    """Ryhmätyönohjaus, typically 3–6 people from different units."""
    WORK_COMMUNITY = "work_community"
    """Työyhteisön työnohjaus: a whole unit."""
    PATIENT_WORK = "patient_work"
    """Potilastyön / hoitotyön (clinical) työnohjaus."""
    MANAGER = "manager"
    """Esihenkilötyön työnohjaus."""
    CONSULTATION = "consultation"
    """Konsultaatio: short or one-off."""
    PROCESS_CHANGE = "process_change"
    """Prosessi- tai muutostyönohjaus."""
    CRISIS = "crisis"
    """Kriisi- ja tilannetyönohjaus."""


class DeliveryMode(StrEnum):
    REMOTE = "remote"
    """Etätyönohjaus."""
    AT_BUYER = "at_buyer"
    AT_SUPERVISOR = "at_supervisor"


class QualificationKind(StrEnum):
    STORY_TRAINING = "story_training"
    VALVIRA_REGISTRATION = "valvira_registration"
    OTHER = "other"


SupervisionFormName = Literal[
    "individual",
    "pair",
    "team",
    "group",
    "work_community",
    "patient_work",
    "manager",
    "consultation",
    "process_change",
    "crisis",
]
"""A :class:`SupervisionForm` as event contracts carry it."""

DeliveryModeName = Literal["remote", "at_buyer", "at_supervisor"]
"""A :class:`DeliveryMode` as event contracts carry it."""

QualificationType = Literal["story_training", "valvira_registration", "other"]
"""A :class:`QualificationKind` as event contracts carry it."""
