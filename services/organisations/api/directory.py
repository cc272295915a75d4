"""Routes inside a tenant: org units, cost centres and approvers, people, supervisor profiles.

Every route acts on the caller's own tenant (from the token); another tenant's ids answer 404.
"""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import UNSET

from services.organisations.api.schemas import (
    ApproverOut,
    AvailabilityUpdate,
    CostCentreCreate,
    CostCentreOut,
    CostCentreUpdate,
    IdentityEventOut,
    LinkedIdentityOut,
    OrgUnitCreate,
    OrgUnitOut,
    OrgUnitUpdate,
    OtherQualificationBody,
    OwnPersonOut,
    PersonCreate,
    PersonOut,
    PersonUpdate,
    QualificationBody,
    StoryTrainingBody,
    SupervisorProfileCreate,
    SupervisorProfileOut,
    SupervisorProfileUpdate,
    ValviraRegistrationBody,
)
from services.organisations.domain.directory import (
    CostCentre,
    CostCentreChanges,
    OrgUnit,
    OtherQualification,
    Person,
    PersonChanges,
    Qualification,
    Role,
    StoryTraining,
    SupervisorOffer,
    SupervisorOfferChanges,
    SupervisorProfile,
    ValviraRegistration,
)
from services.organisations.handlers import directory as handlers
from services.organisations.handlers import invitations as invitation_handlers
from shared.auth.guards import requires_role
from shared.auth.principal import APPROVER, BUYER_ADMIN, PROVIDER_ADMIN, SUPERVISOR
from shared.http.dependencies import Caller, Pool
from shared.http.pagination import Page, PageSize
from shared.http.versions import IfMatch, expected_version, versioned

__all__ = [
    "DIRECTORY_ROUTES",
    "CostCentreController",
    "OrgUnitController",
    "PersonController",
    "SupervisorProfileController",
]


BUYER_ADMINS = [requires_role(BUYER_ADMIN)]
BUYER_READERS = [requires_role(BUYER_ADMIN, APPROVER)]
ADMINS = [requires_role(BUYER_ADMIN, PROVIDER_ADMIN)]
PROVIDER_ADMINS = [requires_role(PROVIDER_ADMIN)]
SUPERVISORS = [requires_role(SUPERVISOR)]


# --- org units ---


def _org_unit(unit: OrgUnit) -> OrgUnitOut:
    return OrgUnitOut(id=unit.org_unit_id, name=unit.name, parent_id=unit.parent_id, version=unit.version)


class OrgUnitController(Controller):
    """A buyer's organisation: areas, services, units (each optionally under another)."""

    path = "/org-units"
    tags = ["buyer structure"]

    @post("/", operation_id="createOrgUnit", summary="Add an org unit", guards=BUYER_ADMINS)
    async def create(
        self, data: JSONBody[OrgUnitCreate], pool: Pool, principal: Caller
    ) -> Response[OrgUnitOut]:
        unit = await handlers.create_org_unit(pool, principal, name=data.name, parent_id=data.parent_id)
        return versioned(_org_unit(unit), unit.version, 201)

    @get("/", operation_id="listOrgUnits", summary="The tenant's org units", guards=BUYER_READERS)
    async def index(
        self,
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
    ) -> Page[OrgUnitOut]:
        units, next_cursor = await handlers.list_org_units(pool, principal, cursor=cursor, limit=limit)
        return Page(items=[_org_unit(u) for u in units], next_cursor=next_cursor)

    @get("/{org_unit_id:uuid}", operation_id="getOrgUnit", summary="One org unit", guards=BUYER_READERS)
    async def read(
        self, org_unit_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> Response[OrgUnitOut]:
        unit = await handlers.get_org_unit(pool, principal, org_unit_id)
        return versioned(_org_unit(unit), unit.version)

    @patch(
        "/{org_unit_id:uuid}",
        operation_id="updateOrgUnit",
        summary="Rename an org unit or move it under another",
        guards=BUYER_ADMINS,
    )
    async def update(
        self,
        org_unit_id: FromPath[uuid.UUID],
        data: JSONBody[OrgUnitUpdate],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[OrgUnitOut]:
        unit = await handlers.update_org_unit(
            pool,
            principal,
            org_unit_id,
            name=data.name,
            parent_id=data.parent_id,
            expected_version=expected_version(if_match),
        )
        return versioned(_org_unit(unit), unit.version)

    @delete(
        "/{org_unit_id:uuid}",
        operation_id="deleteOrgUnit",
        summary="Remove an org unit that has no sub-units and no cost centres",
        guards=BUYER_ADMINS,
    )
    async def remove(
        self, org_unit_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> None:
        await handlers.delete_org_unit(
            pool, principal, org_unit_id, expected_version=expected_version(if_match)
        )


# --- cost centres and approvers ---


def _cost_centre(cost_centre: CostCentre) -> CostCentreOut:
    return CostCentreOut(
        id=cost_centre.cost_centre_id,
        org_unit_id=cost_centre.org_unit_id,
        code=cost_centre.code,
        name=cost_centre.name,
        yearly_budget_cents=cost_centre.yearly_budget_cents,
        active=cost_centre.active,
        version=cost_centre.version,
    )


class CostCentreController(Controller):
    """Cost centres (kustannuspaikat) orders are charged to, and who may approve on each."""

    path = "/cost-centres"
    tags = ["buyer structure"]

    @post("/", operation_id="createCostCentre", summary="Open a cost centre", guards=BUYER_ADMINS)
    async def create(
        self, data: JSONBody[CostCentreCreate], pool: Pool, principal: Caller
    ) -> Response[CostCentreOut]:
        cost_centre = await handlers.create_cost_centre(
            pool,
            principal,
            org_unit_id=data.org_unit_id,
            code=data.code,
            name=data.name,
            yearly_budget_cents=data.yearly_budget_cents,
        )
        return versioned(_cost_centre(cost_centre), cost_centre.version, 201)

    @get("/", operation_id="listCostCentres", summary="The tenant's cost centres", guards=BUYER_READERS)
    async def index(
        self,
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
        active: FromQuery[bool | None] = None,
    ) -> Page[CostCentreOut]:
        rows, next_cursor = await handlers.list_cost_centres(
            pool, principal, cursor=cursor, limit=limit, active=active
        )
        return Page(items=[_cost_centre(c) for c in rows], next_cursor=next_cursor)

    @get(
        "/{cost_centre_id:uuid}",
        operation_id="getCostCentre",
        summary="One cost centre",
        guards=BUYER_READERS,
    )
    async def read(
        self, cost_centre_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> Response[CostCentreOut]:
        cost_centre = await handlers.get_cost_centre(pool, principal, cost_centre_id)
        return versioned(_cost_centre(cost_centre), cost_centre.version)

    @patch(
        "/{cost_centre_id:uuid}",
        operation_id="updateCostCentre",
        summary="Change a cost centre's code, name, budget or org unit",
        guards=BUYER_ADMINS,
    )
    async def update(
        self,
        cost_centre_id: FromPath[uuid.UUID],
        data: JSONBody[CostCentreUpdate],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[CostCentreOut]:
        changes = CostCentreChanges(
            org_unit_id=data.org_unit_id,
            code=data.code,
            name=data.name,
            yearly_budget_cents=data.yearly_budget_cents,
        )
        cost_centre = await handlers.update_cost_centre(
            pool, principal, cost_centre_id, changes, expected_version=expected_version(if_match)
        )
        return versioned(_cost_centre(cost_centre), cost_centre.version)

    @post(
        "/{cost_centre_id:uuid}/deactivate",
        operation_id="deactivateCostCentre",
        summary="Close a cost centre to new orders (it is never deleted)",
        guards=BUYER_ADMINS,
        status_code=200,
    )
    async def deactivate(
        self, cost_centre_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[CostCentreOut]:
        cost_centre = await handlers.deactivate_cost_centre_by_id(
            pool, principal, cost_centre_id, expected_version=expected_version(if_match)
        )
        return versioned(_cost_centre(cost_centre), cost_centre.version)

    @get(
        "/{cost_centre_id:uuid}/approvers",
        operation_id="listApprovers",
        summary="Who may approve orders on the cost centre",
        guards=BUYER_READERS,
    )
    async def approvers(
        self,
        cost_centre_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
    ) -> Page[ApproverOut]:
        rows, next_cursor = await handlers.list_approvers(
            pool, principal, cost_centre_id, cursor=cursor, limit=limit
        )
        items = [ApproverOut(person_id=r.person_id, name=r.name, assigned_at=r.assigned_at) for r in rows]
        return Page(items=items, next_cursor=next_cursor)

    @put(
        "/{cost_centre_id:uuid}/approvers/{person_id:uuid}",
        operation_id="assignApprover",
        summary="Let a person with the approver role approve on the cost centre (idempotent)",
        guards=BUYER_ADMINS,
        status_code=204,
    )
    async def assign_approver(
        self,
        cost_centre_id: FromPath[uuid.UUID],
        person_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[None]:
        """``If-Match`` is the cost centre's ETag: its approvers count in its version."""
        version = await handlers.assign_approver(
            pool, principal, cost_centre_id, person_id, expected_version=expected_version(if_match)
        )
        return versioned(None, version, 204)

    @delete(
        "/{cost_centre_id:uuid}/approvers/{person_id:uuid}",
        operation_id="removeApprover",
        summary="Stop a person approving on the cost centre",
        guards=BUYER_ADMINS,
    )
    async def remove_approver(
        self,
        cost_centre_id: FromPath[uuid.UUID],
        person_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[None]:
        """``If-Match`` is the cost centre's ETag: its approvers count in its version."""
        version = await handlers.remove_approver(
            pool, principal, cost_centre_id, person_id, expected_version=expected_version(if_match)
        )
        return versioned(None, version, 204)


# --- people ---


def _person(person: Person) -> PersonOut:
    return PersonOut(
        id=person.person_id,
        name=person.name,
        email=person.email,
        roles=list(person.roles),
        hr_employee_number=person.hr_employee_number,
        active=person.active,
        version=person.version,
    )


class PersonController(Controller):
    """A tenant's people and their roles; its admin manages them, everyone reads their own record."""

    path = "/people"
    tags = ["people"]

    @post("/", operation_id="createPerson", summary="Add a person with roles", guards=ADMINS)
    async def create(
        self, data: JSONBody[PersonCreate], pool: Pool, principal: Caller
    ) -> Response[PersonOut]:
        person = await handlers.create_person(
            pool,
            principal,
            name=data.name,
            email=data.email,
            roles=data.roles,
            hr_employee_number=data.hr_employee_number,
        )
        return versioned(_person(person), person.version, 201)

    @get("/", operation_id="listPeople", summary="The tenant's people", guards=ADMINS)
    async def index(
        self,
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
        role: FromQuery[Role | None] = None,
        active: FromQuery[bool | None] = None,
    ) -> Page[PersonOut]:
        people, next_cursor = await handlers.list_people(
            pool, principal, cursor=cursor, limit=limit, role=role, active=active
        )
        return Page(items=[_person(p) for p in people], next_cursor=next_cursor)

    @get(
        "/me",
        operation_id="getOwnPerson",
        summary="The caller's own person record, the logins linked to it and their history",
    )
    async def me(self, pool: Pool, principal: Caller) -> Response[OwnPersonOut]:
        own = await invitation_handlers.own_identity(pool, principal)
        person = own.person
        body = OwnPersonOut(
            id=person.person_id,
            name=person.name,
            email=person.email,
            roles=list(person.roles),
            hr_employee_number=person.hr_employee_number,
            active=person.active,
            version=person.version,
            identities=[
                LinkedIdentityOut(issuer=i.issuer, linked_at=i.linked_at, last_login_at=i.last_login_at)
                for i in own.identities
            ],
            identity_history=[
                IdentityEventOut(
                    action=e.action,
                    actor=e.actor,
                    at=e.at,
                    detail={k: str(v) for k, v in e.detail.items() if v is not None},
                )
                for e in own.history
            ],
        )
        return versioned(body, person.version)

    @get("/{person_id:uuid}", operation_id="getPerson", summary="One person", guards=ADMINS)
    async def read(
        self, person_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> Response[PersonOut]:
        person = await handlers.get_person(pool, principal, person_id)
        return versioned(_person(person), person.version)

    @patch(
        "/{person_id:uuid}",
        operation_id="updatePerson",
        summary="Change a person's name, e-mail, roles or HR employee number",
        guards=ADMINS,
    )
    async def update(
        self,
        person_id: FromPath[uuid.UUID],
        data: JSONBody[PersonUpdate],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[PersonOut]:
        changes = PersonChanges(
            name=data.name, email=data.email, roles=data.roles, hr_employee_number=data.hr_employee_number
        )
        person = await handlers.update_person(
            pool, principal, person_id, changes, expected_version=expected_version(if_match)
        )
        return versioned(_person(person), person.version)

    @post(
        "/{person_id:uuid}/deactivate",
        operation_id="deactivatePerson",
        summary="Deactivate a person (never deleted); their approvals end and their profile is withdrawn",
        guards=ADMINS,
        status_code=200,
    )
    async def deactivate(
        self, person_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[PersonOut]:
        person = await handlers.deactivate_person_by_id(
            pool, principal, person_id, expected_version=expected_version(if_match)
        )
        return versioned(_person(person), person.version)


# --- supervisor profiles ---


def _qualification_in(body: QualificationBody) -> Qualification:
    if isinstance(body, StoryTrainingBody):
        return StoryTraining(institution=body.institution, completed_on=body.completed_on, ects=body.ects)
    if isinstance(body, ValviraRegistrationBody):
        return ValviraRegistration(
            registration_number=body.registration_number,
            verified_on=body.verified_on,
            verified_by=body.verified_by,
        )
    return OtherQualification(description=body.description)


def _qualification_out(qualification: Qualification) -> QualificationBody:
    if isinstance(qualification, StoryTraining):
        return StoryTrainingBody(
            institution=qualification.institution,
            completed_on=qualification.completed_on,
            ects=qualification.ects,
        )
    if isinstance(qualification, ValviraRegistration):
        return ValviraRegistrationBody(
            registration_number=qualification.registration_number,
            verified_on=qualification.verified_on,
            verified_by=qualification.verified_by,
        )
    return OtherQualificationBody(description=qualification.description)


def _profile(profile: SupervisorProfile) -> SupervisorProfileOut:
    return SupervisorProfileOut(
        person_id=profile.person_id,
        forms=list(profile.forms),
        languages=list(profile.languages),
        regions=list(profile.regions),
        delivery_modes=list(profile.delivery_modes),
        available=profile.available,
        qualifications=[_qualification_out(q) for q in profile.qualifications],
        version=profile.version,
    )


class SupervisorProfileController(Controller):
    """What each supervisor of a provider offers, and the evidence of their qualifications."""

    path = "/supervisor-profiles"
    tags = ["supervisors"]

    @post(
        "/",
        operation_id="createSupervisorProfile",
        summary="Describe what a supervisor offers (one profile per supervisor)",
        guards=PROVIDER_ADMINS,
    )
    async def create(
        self, data: JSONBody[SupervisorProfileCreate], pool: Pool, principal: Caller
    ) -> Response[SupervisorProfileOut]:
        offer = SupervisorOffer(
            forms=data.forms,
            languages=data.languages,
            regions=data.regions,
            delivery_modes=data.delivery_modes,
            available=data.available,
            qualifications=[_qualification_in(q) for q in data.qualifications],
        )
        profile = await handlers.create_supervisor_profile(pool, principal, data.person_id, offer)
        return versioned(_profile(profile), profile.version, 201)

    @get(
        "/",
        operation_id="listSupervisorProfiles",
        summary="The provider's supervisor profiles",
        guards=PROVIDER_ADMINS,
    )
    async def index(
        self,
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
        available: FromQuery[bool | None] = None,
    ) -> Page[SupervisorProfileOut]:
        profiles, next_cursor = await handlers.list_supervisor_profiles(
            pool, principal, cursor=cursor, limit=limit, available=available
        )
        return Page(items=[_profile(p) for p in profiles], next_cursor=next_cursor)

    @get(
        "/me",
        operation_id="getOwnSupervisorProfile",
        summary="The calling supervisor's own profile",
        guards=SUPERVISORS,
    )
    async def me(self, pool: Pool, principal: Caller) -> Response[SupervisorProfileOut]:
        profile = await handlers.get_own_supervisor_profile(pool, principal)
        return versioned(_profile(profile), profile.version)

    @put(
        "/me/availability",
        operation_id="setOwnAvailability",
        summary="A supervisor says whether they take new orders",
        guards=SUPERVISORS,
    )
    async def set_availability(
        self, data: JSONBody[AvailabilityUpdate], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[SupervisorProfileOut]:
        profile = await handlers.set_own_availability(
            pool, principal, data.available, expected_version=expected_version(if_match)
        )
        return versioned(_profile(profile), profile.version)

    @get(
        "/{person_id:uuid}",
        operation_id="getSupervisorProfile",
        summary="One supervisor's profile",
        guards=PROVIDER_ADMINS,
    )
    async def read(
        self, person_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> Response[SupervisorProfileOut]:
        profile = await handlers.get_supervisor_profile(pool, principal, person_id)
        return versioned(_profile(profile), profile.version)

    @patch(
        "/{person_id:uuid}",
        operation_id="updateSupervisorProfile",
        summary="Change what a supervisor offers; qualifications are replaced as a whole",
        guards=PROVIDER_ADMINS,
    )
    async def update(
        self,
        person_id: FromPath[uuid.UUID],
        data: JSONBody[SupervisorProfileUpdate],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[SupervisorProfileOut]:
        changes = SupervisorOfferChanges(
            forms=data.forms,
            languages=data.languages,
            regions=data.regions,
            delivery_modes=data.delivery_modes,
            available=data.available,
            qualifications=(
                UNSET if data.qualifications is UNSET else [_qualification_in(q) for q in data.qualifications]
            ),
        )
        profile = await handlers.update_supervisor_profile(
            pool, principal, person_id, changes, expected_version=expected_version(if_match)
        )
        return versioned(_profile(profile), profile.version)


DIRECTORY_ROUTES = [OrgUnitController, CostCentreController, PersonController, SupervisorProfileController]
"""What ``app.py`` mounts from this module."""
