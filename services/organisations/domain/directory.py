"""Inside a tenant: org units, cost centres and their approvers, people and roles, supervisor profiles.

Rules only; the handlers fetch what a rule needs (the tenant's kind, a person, today's date in
Europe/Helsinki) and pass it in.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Collection, Iterable, Sequence
from enum import StrEnum
from typing import Any, TypeVar

import msgspec
import pycountry
from msgspec import UNSET, UnsetType
from stdnum.fi import hetu

from services.organisations.domain.tenants import RuleBroken, StateConflict, TenantKind, valid_text
from shared.contracts.vocabulary import DeliveryMode, SupervisionForm

__all__ = [
    "ADMIN_ROLE",
    "ROLES",
    "CostCentre",
    "CostCentreChanges",
    "DeliveryMode",
    "InvalidEntry",
    "OrgUnit",
    "OtherQualification",
    "Person",
    "PersonChanges",
    "Qualification",
    "Role",
    "StoryTraining",
    "SupervisionForm",
    "SupervisorOffer",
    "SupervisorOfferChanges",
    "SupervisorProfile",
    "ValviraRegistration",
    "change_cost_centre",
    "change_org_unit",
    "change_person",
    "change_supervisor_profile",
    "check_may_approve",
    "deactivate_cost_centre",
    "deactivate_person",
    "new_cost_centre",
    "new_org_unit",
    "new_person",
    "new_supervisor_profile",
    "set_availability",
    "verifiers_needed",
    "withdraw_if_not_supervising",
]


class InvalidEntry(RuleBroken):
    pass


def _text(field: str, value: str, *, max_length: int = 200) -> str:
    return valid_text(field, value, max_length=max_length, error=InvalidEntry)


def _given(changes: msgspec.Struct) -> dict[str, Any]:
    return {f: getattr(changes, f) for f in changes.__struct_fields__ if getattr(changes, f) is not UNSET}


class _Versioned(msgspec.Struct, frozen=True, kw_only=True):
    version: int = 1
    """Counts the aggregate's changes; its events carry it so consumers spot gaps and old news."""


V = TypeVar("V", bound=_Versioned)


def _next_version(before: V, after: V) -> V:
    """``after`` at the next version, or ``before`` itself when nothing changed."""
    if after == before:
        return before
    return msgspec.structs.replace(after, version=before.version + 1)


# --- roles ---


class Role(StrEnum):
    """A person's roles in their tenant (``platform_admin`` is Tila's own, never a tenant's)."""

    BUYER_ADMIN = "buyer_admin"
    """Procurement, HR or wellbeing: cost centres, approvers, people, frameworks."""
    APPROVER = "approver"
    """Esihenkilö: orders and approves on the cost centres they hold."""
    EMPLOYEE = "employee"
    """Ohjattava: takes part in supervision."""
    PROVIDER_ADMIN = "provider_admin"
    """Runs the provider: supervisors, prices, invoices."""
    SUPERVISOR = "supervisor"
    """Työnohjaaja."""


ROLES: dict[TenantKind, frozenset[Role]] = {
    TenantKind.BUYER: frozenset({Role.BUYER_ADMIN, Role.APPROVER, Role.EMPLOYEE}),
    TenantKind.PROVIDER: frozenset({Role.PROVIDER_ADMIN, Role.SUPERVISOR}),
}
ADMIN_ROLE: dict[TenantKind, Role] = {
    TenantKind.BUYER: Role.BUYER_ADMIN,
    TenantKind.PROVIDER: Role.PROVIDER_ADMIN,
}


# --- org units ---


class OrgUnit(_Versioned, frozen=True, kw_only=True):
    org_unit_id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None = None


def new_org_unit(org_unit_id: uuid.UUID, *, name: str, parent_id: uuid.UUID | None) -> OrgUnit:
    return OrgUnit(org_unit_id=org_unit_id, name=_text("name", name), parent_id=parent_id)


def change_org_unit(
    unit: OrgUnit,
    *,
    name: str | UnsetType = UNSET,
    parent_id: uuid.UUID | UnsetType | None = UNSET,
    ancestors_of_parent: Collection[uuid.UUID] = (),
) -> OrgUnit:
    """Rename or move ``unit``; ``ancestors_of_parent`` are the new parent's ancestors, nearest first."""
    after = unit
    if name is not UNSET:
        after = msgspec.structs.replace(after, name=_text("name", name))
    if parent_id is not UNSET:
        moved_under_itself = parent_id == unit.org_unit_id or unit.org_unit_id in ancestors_of_parent
        if parent_id is not None and moved_under_itself:
            raise InvalidEntry("parentId", "an org unit cannot sit under itself or one of its own sub-units")
        after = msgspec.structs.replace(after, parent_id=parent_id)
    return _next_version(unit, after)


# --- cost centres ---


class CostCentre(_Versioned, frozen=True, kw_only=True):
    cost_centre_id: uuid.UUID
    org_unit_id: uuid.UUID
    code: str
    """The buyer's own code (kustannuspaikka), unique in the tenant; it appears on invoices."""
    name: str
    yearly_budget_cents: int
    active: bool = True


class CostCentreChanges(msgspec.Struct, frozen=True, kw_only=True):
    org_unit_id: uuid.UUID | UnsetType = UNSET
    code: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    yearly_budget_cents: int | UnsetType = UNSET


_COST_CENTRE_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._/-]{0,31}")


def _code(value: str) -> str:
    code = value.strip()
    if _COST_CENTRE_CODE.fullmatch(code) is None:
        raise InvalidEntry("code", "1–32 letters, digits and . _ / -, starting with a letter or digit")
    return code


def _budget(cents: int) -> int:
    if cents < 0:
        raise InvalidEntry("yearlyBudgetCents", "must not be negative")
    return cents


def new_cost_centre(
    cost_centre_id: uuid.UUID, *, org_unit_id: uuid.UUID, code: str, name: str, yearly_budget_cents: int
) -> CostCentre:
    return CostCentre(
        cost_centre_id=cost_centre_id,
        org_unit_id=org_unit_id,
        code=_code(code),
        name=_text("name", name),
        yearly_budget_cents=_budget(yearly_budget_cents),
    )


def change_cost_centre(cost_centre: CostCentre, changes: CostCentreChanges) -> CostCentre:
    if not cost_centre.active:
        raise StateConflict("a deactivated cost centre cannot be changed")
    given = _given(changes)
    if "code" in given:
        given["code"] = _code(given["code"])
    if "name" in given:
        given["name"] = _text("name", given["name"])
    if "yearly_budget_cents" in given:
        given["yearly_budget_cents"] = _budget(given["yearly_budget_cents"])
    return _next_version(cost_centre, msgspec.structs.replace(cost_centre, **given))


def deactivate_cost_centre(cost_centre: CostCentre) -> CostCentre:
    return _next_version(cost_centre, msgspec.structs.replace(cost_centre, active=False))


# --- people ---


class Person(_Versioned, frozen=True, kw_only=True):
    person_id: uuid.UUID
    name: str
    email: str
    roles: tuple[Role, ...]
    """Sorted, without repeats."""
    hr_employee_number: str | None = None
    """What the buyer's HR system calls the person (henkilönumero); buyers only."""
    active: bool = True

    def has_role(self, role: Role) -> bool:
        return role in self.roles


class PersonChanges(msgspec.Struct, frozen=True, kw_only=True):
    name: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    roles: Sequence[Role] | UnsetType = UNSET
    hr_employee_number: str | UnsetType | None = UNSET


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_HR_EMPLOYEE_NUMBER = re.compile(r"[0-9A-Za-z][0-9A-Za-z._/-]{0,31}")


def _email(value: str) -> str:
    email = value.strip()
    if len(email) > 254 or _EMAIL.fullmatch(email) is None:
        raise InvalidEntry("email", "not an e-mail address")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def _roles(kind: TenantKind, roles: Iterable[Role]) -> tuple[Role, ...]:
    chosen = sorted(set(roles))
    if not chosen:
        raise InvalidEntry("roles", "a person needs at least one role")
    foreign = [role for role in chosen if role not in ROLES[kind]]
    if foreign:
        allowed = ", ".join(sorted(ROLES[kind]))
        raise InvalidEntry("roles", f"a {kind} tenant's roles are: {allowed}")
    return tuple(chosen)


def _hr_employee_number(kind: TenantKind, value: str | None) -> str | None:
    if value is None:
        return None
    if kind is not TenantKind.BUYER:
        raise InvalidEntry("hrEmployeeNumber", "only buyers' HR systems number their employees here")
    number = value.strip()
    # HR events carry this number, so it must never be a personal identity code (henkilötunnus).
    if hetu.is_valid(number):
        raise InvalidEntry("hrEmployeeNumber", "must not be a personal identity code (henkilötunnus)")
    if _HR_EMPLOYEE_NUMBER.fullmatch(number) is None:
        raise InvalidEntry("hrEmployeeNumber", "1–32 letters, digits and . _ / -")
    return number


def new_person(
    person_id: uuid.UUID,
    *,
    kind: TenantKind,
    name: str,
    email: str,
    roles: Iterable[Role],
    hr_employee_number: str | None = None,
) -> Person:
    return Person(
        person_id=person_id,
        name=_text("name", name),
        email=_email(email),
        roles=_roles(kind, roles),
        hr_employee_number=_hr_employee_number(kind, hr_employee_number),
    )


def change_person(person: Person, kind: TenantKind, changes: PersonChanges) -> Person:
    if not person.active:
        raise StateConflict("a deactivated person cannot be changed")
    given = _given(changes)
    if "name" in given:
        given["name"] = _text("name", given["name"])
    if "email" in given:
        given["email"] = _email(given["email"])
    if "roles" in given:
        given["roles"] = _roles(kind, given["roles"])
    if "hr_employee_number" in given:
        given["hr_employee_number"] = _hr_employee_number(kind, given["hr_employee_number"])
    return _next_version(person, msgspec.structs.replace(person, **given))


def deactivate_person(person: Person) -> Person:
    """People are never deleted: orders, sessions and invoices keep pointing at them."""
    return _next_version(person, msgspec.structs.replace(person, active=False))


def check_may_approve(person: Person) -> None:
    if not (person.active and person.has_role(Role.APPROVER)):
        raise InvalidEntry("personId", "only an active person with the approver role approves here")


# --- supervisors ---


class StoryTraining(msgspec.Struct, frozen=True, kw_only=True, tag="story_training", tag_field="type"):
    """Supervisor training to the STOry standard (the full standard is 60 ECTS)."""

    institution: str
    completed_on: dt.date
    ects: float


class ValviraRegistration(
    msgspec.Struct, frozen=True, kw_only=True, tag="valvira_registration", tag_field="type"
):
    """A registration as a health or social care professional, checked by someone at the provider."""

    registration_number: str
    verified_on: dt.date
    verified_by: uuid.UUID
    """The person (a provider admin of the same tenant) who checked it in the register."""


class OtherQualification(msgspec.Struct, frozen=True, kw_only=True, tag="other", tag_field="type"):
    description: str


Qualification = StoryTraining | ValviraRegistration | OtherQualification


class SupervisorOffer(msgspec.Struct, frozen=True, kw_only=True):
    """What a supervisor offers, as given; :func:`new_supervisor_profile` checks and normalises it."""

    forms: Sequence[SupervisionForm] = ()
    languages: Sequence[str] = ()
    regions: Sequence[str] = ()
    delivery_modes: Sequence[DeliveryMode] = ()
    available: bool = False
    qualifications: Sequence[Qualification] = ()


class SupervisorOfferChanges(msgspec.Struct, frozen=True, kw_only=True):
    forms: Sequence[SupervisionForm] | UnsetType = UNSET
    languages: Sequence[str] | UnsetType = UNSET
    regions: Sequence[str] | UnsetType = UNSET
    delivery_modes: Sequence[DeliveryMode] | UnsetType = UNSET
    available: bool | UnsetType = UNSET
    qualifications: Sequence[Qualification] | UnsetType = UNSET


class SupervisorProfile(_Versioned, frozen=True, kw_only=True):
    person_id: uuid.UUID
    """One profile per supervisor: the person's id is the profile's."""
    forms: tuple[SupervisionForm, ...] = ()
    languages: tuple[str, ...] = ()
    """ISO 639-1, in the supervisor's order of preference."""
    regions: tuple[str, ...] = ()
    delivery_modes: tuple[DeliveryMode, ...] = ()
    available: bool = False
    qualifications: tuple[Qualification, ...] = ()


_REGION = re.compile(r"[0-9A-Za-zÅÄÖåäö][0-9A-Za-zÅÄÖåäö ._-]{0,63}")
_REGISTRATION_NUMBER = re.compile(r"\d{5,15}")

T = TypeVar("T")


def _unique(values: Iterable[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(values))


def _languages(values: Iterable[str]) -> tuple[str, ...]:
    languages = []
    for index, value in enumerate(values):
        code = value.strip().lower()
        if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None:
            raise InvalidEntry(f"languages[{index}]", "not an ISO 639-1 language code")
        languages.append(code)
    return _unique(languages)


def _regions(values: Iterable[str]) -> tuple[str, ...]:
    regions = []
    for index, value in enumerate(values):
        region = value.strip()
        if _REGION.fullmatch(region) is None:
            raise InvalidEntry(f"regions[{index}]", "a region code is 1–64 letters, digits, spaces and . _ -")
        regions.append(region)
    return _unique(regions)


def verifiers_needed(qualifications: Iterable[Qualification]) -> set[uuid.UUID]:
    """The people the handler must look up before the qualifications can be checked."""
    return {q.verified_by for q in qualifications if isinstance(q, ValviraRegistration)}


def _not_in_future(field: str, day: dt.date, today: dt.date) -> dt.date:
    if day > today:
        raise InvalidEntry(field, "must not be in the future")
    return day


def _qualification(
    index: int, qualification: Qualification, *, today: dt.date, verifiers: Collection[uuid.UUID]
) -> Qualification:
    at = f"qualifications[{index}]"
    if isinstance(qualification, StoryTraining):
        if not math.isfinite(qualification.ects) or qualification.ects < 0:
            raise InvalidEntry(f"{at}.ects", "ECTS credits are a number of at least 0")
        return StoryTraining(
            institution=_text(f"{at}.institution", qualification.institution),
            completed_on=_not_in_future(f"{at}.completedOn", qualification.completed_on, today),
            ects=qualification.ects,
        )
    if isinstance(qualification, ValviraRegistration):
        number = qualification.registration_number.strip()
        if _REGISTRATION_NUMBER.fullmatch(number) is None:
            raise InvalidEntry(f"{at}.registrationNumber", "a Valvira registration number is 5–15 digits")
        if qualification.verified_by not in verifiers:
            raise InvalidEntry(f"{at}.verifiedBy", "must be an active provider admin of this tenant")
        return ValviraRegistration(
            registration_number=number,
            verified_on=_not_in_future(f"{at}.verifiedOn", qualification.verified_on, today),
            verified_by=qualification.verified_by,
        )
    description = _text(f"{at}.description", qualification.description, max_length=500)
    return OtherQualification(description=description)


def _qualifications(
    qualifications: Iterable[Qualification], *, today: dt.date, verifiers: Collection[uuid.UUID]
) -> tuple[Qualification, ...]:
    return tuple(
        _qualification(index, q, today=today, verifiers=verifiers) for index, q in enumerate(qualifications)
    )


def _check_supervising(person: Person, field: str) -> None:
    if not (person.active and person.has_role(Role.SUPERVISOR)):
        raise InvalidEntry(field, "only an active person with the supervisor role has a supervisor profile")


def _check_bookable(profile: SupervisorProfile, person: Person) -> SupervisorProfile:
    # Availability is what orders look at when choosing: an available supervisor must be choosable.
    if profile.available:
        _check_supervising(person, "available")
        for field, values in (
            ("forms", profile.forms),
            ("languages", profile.languages),
            ("deliveryModes", profile.delivery_modes),
        ):
            if not values:
                raise InvalidEntry(field, "an available supervisor offers at least one")
    return profile


def new_supervisor_profile(
    person: Person, offer: SupervisorOffer, *, today: dt.date, verifiers: Collection[uuid.UUID]
) -> SupervisorProfile:
    """``verifiers``: the ids among :func:`verifiers_needed` that are active provider admins."""
    _check_supervising(person, "personId")
    profile = SupervisorProfile(
        person_id=person.person_id,
        forms=_unique(offer.forms),
        languages=_languages(offer.languages),
        regions=_regions(offer.regions),
        delivery_modes=_unique(offer.delivery_modes),
        available=offer.available,
        qualifications=_qualifications(offer.qualifications, today=today, verifiers=verifiers),
    )
    return _check_bookable(profile, person)


def change_supervisor_profile(
    profile: SupervisorProfile,
    person: Person,
    changes: SupervisorOfferChanges,
    *,
    today: dt.date,
    verifiers: Collection[uuid.UUID],
) -> SupervisorProfile:
    """Replace the given parts of the offer; qualifications are replaced as a whole."""
    if not (person.active and person.has_role(Role.SUPERVISOR)):
        raise StateConflict("only an active supervisor's profile can be changed")
    given = _given(changes)
    if "forms" in given:
        given["forms"] = _unique(given["forms"])
    if "languages" in given:
        given["languages"] = _languages(given["languages"])
    if "regions" in given:
        given["regions"] = _regions(given["regions"])
    if "delivery_modes" in given:
        given["delivery_modes"] = _unique(given["delivery_modes"])
    if "qualifications" in given:
        given["qualifications"] = _qualifications(given["qualifications"], today=today, verifiers=verifiers)
    after = _check_bookable(msgspec.structs.replace(profile, **given), person)
    return _next_version(profile, after)


def set_availability(profile: SupervisorProfile, person: Person, available: bool) -> SupervisorProfile:
    """What a supervisor may change on their own profile."""
    after = _check_bookable(msgspec.structs.replace(profile, available=available), person)
    return _next_version(profile, after)


def withdraw_if_not_supervising(profile: SupervisorProfile, person: Person) -> SupervisorProfile:
    """A supervisor who leaves or loses the role is no longer available to be chosen."""
    if person.active and person.has_role(Role.SUPERVISOR):
        return profile
    return _next_version(profile, msgspec.structs.replace(profile, available=False))
