"""The rules of tenant details, buyer structure, people and supervisor profiles, without servers."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
from msgspec import UNSET

from services.organisations.domain.directory import (
    CostCentreChanges,
    DeliveryMode,
    InvalidEntry,
    OtherQualification,
    Person,
    PersonChanges,
    Role,
    StoryTraining,
    SupervisionForm,
    SupervisorOffer,
    SupervisorOfferChanges,
    ValviraRegistration,
    change_cost_centre,
    change_org_unit,
    change_person,
    change_supervisor_profile,
    check_may_approve,
    deactivate_cost_centre,
    deactivate_person,
    new_cost_centre,
    new_org_unit,
    new_person,
    new_supervisor_profile,
    set_availability,
    verifiers_needed,
    withdraw_if_not_supervising,
)
from services.organisations.domain.tenants import (
    EInvoiceAddress,
    EInvoiceScheme,
    InvalidTenant,
    PostalAddress,
    StateConflict,
    TenantChanges,
    TenantDetails,
    TenantKind,
    TenantSubtype,
    deactivate_tenant,
    new_tenant,
    normalise_e_invoice_address,
    normalise_iban_and_bic,
    normalise_ovt,
    normalise_vat_id,
    update_tenant,
)
from tests.factories import business_id, iban, ovt, vat_id

TODAY = dt.date(2026, 3, 2)


def refused(exc: pytest.ExceptionInfo[InvalidTenant] | pytest.ExceptionInfo[InvalidEntry]) -> str:
    return exc.value.field


# --- VAT id and Y-tunnus ---


@pytest.mark.parametrize("spelling", ["FI20774740", "fi20774740", "FI 2077 4740", "20774740"])
def test_a_vat_id_is_fi_and_the_eight_digits_of_the_business_id(spelling: str) -> None:
    assert normalise_vat_id(spelling, "2077474-0") == "FI20774740"


def test_a_vat_id_with_a_wrong_check_digit_is_refused_on_vat_id() -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_vat_id("FI20774741", "2077474-0")
    assert refused(caught) == "vatId"
    assert caught.value.message.startswith("not a valid Finnish VAT id")


def test_a_valid_vat_id_of_another_business_is_refused_on_vat_id() -> None:
    other = business_id()
    with pytest.raises(InvalidTenant) as caught:
        normalise_vat_id(vat_id(other), "2077474-0")
    assert refused(caught) == "vatId"
    assert "business id" in caught.value.message


@pytest.mark.parametrize("value", ["SE20774740", "FI2077474", "FI207747400", "FIABCDEFGH"])
def test_a_vat_id_that_is_not_finnish_vat_id_shaped_is_refused(value: str) -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_vat_id(value, "2077474-0")
    assert refused(caught) == "vatId"


# --- OVT and Peppol ---


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("003720774740", "003720774740"),
        ("0037 2077474 0", "003720774740"),
        ("003720774740100", "003720774740100"),
        ("003720774740ab12c", "003720774740AB12C"),
    ],
)
def test_an_ovt_code_is_0037_the_business_id_digits_and_up_to_five_more(
    spelling: str, canonical: str
) -> None:
    assert normalise_ovt(spelling, "eInvoiceAddress.address") == canonical


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("003720774741", "check digit"),  # the Y-tunnus inside does not check out
        ("003720774740123456", "up to five"),  # suffix of six
        ("003820774740", "0037"),  # not the Finnish OVT prefix
        ("0037207747", "0037"),  # too short
        ("0037207747400_", "0037"),  # character outside letters and digits
        ("20774740", "0037"),
    ],
)
def test_an_invalid_ovt_code_is_refused_on_the_address(value: str, reason: str) -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_ovt(value, "eInvoiceAddress.address")
    assert refused(caught) == "eInvoiceAddress.address"
    assert reason in caught.value.message


def test_an_ovt_address_needs_its_operator() -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_e_invoice_address(EInvoiceAddress(address="003720774740"))
    assert refused(caught) == "eInvoiceAddress.operatorId"


def test_an_ovt_address_with_its_operator_is_the_ovt_scheme() -> None:
    address = normalise_e_invoice_address(
        EInvoiceAddress(address="003720774740", operator_id="0037 2129 1126")
    )
    assert address == EInvoiceAddress(address="003720774740", operator_id="003721291126")
    assert address.scheme is EInvoiceScheme.OVT


@pytest.mark.parametrize("spelling", ["0216:003720774740", " 0216 : 0037 2077474 0 "])
def test_a_peppol_id_is_scheme_0216_and_an_ovt_code_and_needs_no_operator(spelling: str) -> None:
    address = normalise_e_invoice_address(EInvoiceAddress(address=spelling))
    assert address == EInvoiceAddress(address="0216:003720774740", operator_id=None)
    assert address.scheme is EInvoiceScheme.PEPPOL


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0192:003720774740", "0216"), ("0216:20774740", "0037"), ("0216:003720774741", "check digit")],
)
def test_a_peppol_id_in_another_scheme_or_with_a_bad_ovt_is_refused(value: str, reason: str) -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_e_invoice_address(EInvoiceAddress(address=value))
    assert refused(caught) == "eInvoiceAddress.address"
    assert reason in caught.value.message


def test_a_malformed_operator_id_is_refused_on_the_operator() -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_e_invoice_address(EInvoiceAddress(address="003720774740", operator_id="E2!"))
    assert refused(caught) == "eInvoiceAddress.operatorId"


# --- IBAN and BIC ---


def test_an_iban_is_kept_compact_and_its_bank_bic_is_found() -> None:
    assert normalise_iban_and_bic("FI21 1234 5600 0007 85", None) == ("FI2112345600000785", "NDEAFIHH")


def test_a_given_bic_of_the_ibans_country_is_kept() -> None:
    assert normalise_iban_and_bic("FI2112345600000785", "nordfihh") == ("FI2112345600000785", "NORDFIHH")


@pytest.mark.parametrize("value", ["FI21 1234 5600 0007 86", "FI2112345600000", "XX2112345600000785", "IBAN"])
def test_an_invalid_iban_is_refused_on_iban(value: str) -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_iban_and_bic(value, None)
    assert refused(caught) == "iban"
    assert caught.value.message.startswith("not a valid IBAN")


@pytest.mark.parametrize("bic", ["NDEA", "NDEAZZHH", "COBADEFFXXX"])
def test_an_invalid_bic_or_one_of_another_country_is_refused_on_bic(bic: str) -> None:
    with pytest.raises(InvalidTenant) as caught:
        normalise_iban_and_bic("FI2112345600000785", bic)
    assert refused(caught) == "bic"


# --- a tenant's details together ---


def test_a_provider_with_every_detail_is_stored_normalised() -> None:
    own = business_id()
    tenant = new_tenant(
        uuid.uuid4(),
        name="Työnohjaus Oy",
        kind=TenantKind.PROVIDER,
        business_id=own,
        details=TenantDetails(
            subtype=TenantSubtype.SUPERVISOR_COMPANY,
            vat_id=vat_id(own).lower(),
            postal_address=PostalAddress(street=" Hämeenkatu 1 ", postcode="33100", city="Tampere"),
            e_invoice_address=EInvoiceAddress(address=f"0216:{ovt(own)}"),
            iban="FI21 1234 5600 0007 85",
        ),
    )
    assert tenant.details == TenantDetails(
        subtype=TenantSubtype.SUPERVISOR_COMPANY,
        vat_id=vat_id(own),
        postal_address=PostalAddress(street="Hämeenkatu 1", postcode="33100", city="Tampere", country="FI"),
        e_invoice_address=EInvoiceAddress(address=f"0216:{ovt(own)}"),
        iban="FI2112345600000785",
        bic="NDEAFIHH",
    )


@pytest.mark.parametrize(
    ("kind", "subtype", "valid"),
    [
        (TenantKind.BUYER, TenantSubtype.WELFARE_AREA, True),
        (TenantKind.BUYER, TenantSubtype.MUNICIPALITY, True),
        (TenantKind.BUYER, TenantSubtype.COMPANY, True),
        (TenantKind.BUYER, TenantSubtype.NETWORK, False),
        (TenantKind.PROVIDER, TenantSubtype.SUPERVISOR_COMPANY, True),
        (TenantKind.PROVIDER, TenantSubtype.NETWORK, True),
        (TenantKind.PROVIDER, TenantSubtype.SOLE_TRADER, True),
        (TenantKind.PROVIDER, TenantSubtype.WELFARE_AREA, False),
    ],
)
def test_a_subtype_belongs_to_its_kind(kind: TenantKind, subtype: TenantSubtype, valid: bool) -> None:
    details = TenantDetails(subtype=subtype)
    if valid:
        assert new_tenant(uuid.uuid4(), name="T", kind=kind, business_id=business_id(), details=details)
    else:
        with pytest.raises(InvalidTenant) as caught:
            new_tenant(uuid.uuid4(), name="T", kind=kind, business_id=business_id(), details=details)
        assert refused(caught) == "subtype"


def test_a_buyer_keeps_no_bank_account() -> None:
    with pytest.raises(InvalidTenant) as caught:
        new_tenant(
            uuid.uuid4(),
            name="Hyvinvointialue",
            kind=TenantKind.BUYER,
            business_id=business_id(),
            details=TenantDetails(iban=iban()),
        )
    assert refused(caught) == "iban"


def test_a_bic_without_an_iban_is_refused() -> None:
    with pytest.raises(InvalidTenant) as caught:
        new_tenant(
            uuid.uuid4(),
            name="Tmi Ohjaaja",
            kind=TenantKind.PROVIDER,
            business_id=business_id(),
            details=TenantDetails(bic="NDEAFIHH"),
        )
    assert refused(caught) == "bic"


@pytest.mark.parametrize(
    ("address", "field"),
    [
        (PostalAddress(street="Katu 1", postcode="3310", city="Tampere"), "postalAddress.postcode"),
        (PostalAddress(street="Katu 1", postcode="ABCDE", city="Tampere"), "postalAddress.postcode"),
        (
            PostalAddress(street="Katu 1", postcode="33100", city="Tampere", country="XX"),
            "postalAddress.country",
        ),
        (PostalAddress(street="  ", postcode="33100", city="Tampere"), "postalAddress.street"),
        (PostalAddress(street="Katu 1", postcode="33100", city=" "), "postalAddress.city"),
    ],
)
def test_an_invalid_postal_address_is_refused_on_its_field(address: PostalAddress, field: str) -> None:
    with pytest.raises(InvalidTenant) as caught:
        new_tenant(
            uuid.uuid4(),
            name="T",
            kind=TenantKind.BUYER,
            business_id=business_id(),
            details=TenantDetails(postal_address=address),
        )
    assert refused(caught) == field


def test_a_foreign_postcode_need_not_be_five_digits() -> None:
    tenant = new_tenant(
        uuid.uuid4(),
        name="T",
        kind=TenantKind.BUYER,
        business_id=business_id(),
        details=TenantDetails(
            postal_address=PostalAddress(
                street="Drottninggatan 1", postcode="111 51", city="Stockholm", country="se"
            )
        ),
    )
    assert tenant.details.postal_address == PostalAddress(
        street="Drottninggatan 1", postcode="111 51", city="Stockholm", country="SE"
    )


def test_an_update_that_changes_nothing_keeps_the_version() -> None:
    tenant = new_tenant(uuid.uuid4(), name="T", kind=TenantKind.BUYER, business_id=business_id())
    assert update_tenant(tenant, TenantChanges(name=" T ")) is tenant


def test_an_update_counts_a_version_and_a_null_clears_a_detail() -> None:
    own = business_id()
    tenant = new_tenant(
        uuid.uuid4(),
        name="T",
        kind=TenantKind.BUYER,
        business_id=own,
        details=TenantDetails(vat_id=vat_id(own)),
    )
    updated = update_tenant(tenant, TenantChanges(name="Uusi nimi", vat_id=None))
    assert (updated.name, updated.details.vat_id, updated.version) == ("Uusi nimi", None, 2)
    assert updated.business_id == own


def test_a_new_iban_brings_its_own_banks_bic() -> None:
    tenant = new_tenant(
        uuid.uuid4(),
        name="T",
        kind=TenantKind.PROVIDER,
        business_id=business_id(),
        details=TenantDetails(iban=iban("123")),
    )
    assert tenant.details.bic == "NDEAFIHH"
    moved = update_tenant(tenant, TenantChanges(iban=iban("500")))
    assert moved.details.bic == "OKOYFIHH"


def test_a_deactivated_tenant_cannot_change_and_deactivating_twice_changes_nothing() -> None:
    tenant = new_tenant(uuid.uuid4(), name="T", kind=TenantKind.BUYER, business_id=business_id())
    deactivated = deactivate_tenant(tenant)
    assert (deactivated.active, deactivated.version) == (False, 2)
    assert deactivate_tenant(deactivated) is deactivated
    with pytest.raises(StateConflict):
        update_tenant(deactivated, TenantChanges(name="X"))


# --- roles and people ---


@pytest.mark.parametrize(
    ("kind", "roles"),
    [
        (TenantKind.BUYER, {Role.BUYER_ADMIN, Role.APPROVER, Role.EMPLOYEE}),
        (TenantKind.PROVIDER, {Role.PROVIDER_ADMIN, Role.SUPERVISOR}),
    ],
)
def test_each_tenant_kind_has_its_own_roles(kind: TenantKind, roles: set[Role]) -> None:
    for role in Role:
        if role in roles:
            assert new_person(uuid.uuid4(), kind=kind, name="N", email="n@x.fi", roles=[role]).roles == (
                role,
            )
        else:
            with pytest.raises(InvalidEntry) as caught:
                new_person(uuid.uuid4(), kind=kind, name="N", email="n@x.fi", roles=[role])
            assert refused(caught) == "roles"


def test_a_person_needs_a_role_and_repeats_are_dropped() -> None:
    with pytest.raises(InvalidEntry) as caught:
        new_person(uuid.uuid4(), kind=TenantKind.BUYER, name="N", email="n@x.fi", roles=[])
    assert refused(caught) == "roles"
    person = new_person(
        uuid.uuid4(),
        kind=TenantKind.BUYER,
        name="N",
        email="n@x.fi",
        roles=[Role.EMPLOYEE, Role.APPROVER, Role.EMPLOYEE],
    )
    assert person.roles == (Role.APPROVER, Role.EMPLOYEE)


@pytest.mark.parametrize("email", ["", "maija", "maija@", "@pirha.fi", "maija@pirha", "maija meik@pirha.fi"])
def test_an_invalid_email_is_refused(email: str) -> None:
    with pytest.raises(InvalidEntry) as caught:
        new_person(uuid.uuid4(), kind=TenantKind.BUYER, name="N", email=email, roles=[Role.EMPLOYEE])
    assert refused(caught) == "email"


def test_an_emails_domain_is_lowercased_and_its_local_part_kept() -> None:
    person = new_person(
        uuid.uuid4(), kind=TenantKind.BUYER, name="N", email=" Maija.M@PIRHA.fi ", roles=[Role.EMPLOYEE]
    )
    assert person.email == "Maija.M@pirha.fi"


@pytest.mark.parametrize("identity_code", ["131052-308T", "131052A308T"])
def test_a_personal_identity_code_is_never_an_hr_employee_number(identity_code: str) -> None:
    with pytest.raises(InvalidEntry) as caught:
        new_person(
            uuid.uuid4(),
            kind=TenantKind.BUYER,
            name="N",
            email="n@x.fi",
            roles=[Role.EMPLOYEE],
            hr_employee_number=identity_code,
        )
    assert refused(caught) == "hrEmployeeNumber"
    assert identity_code not in caught.value.message


def test_only_buyers_keep_hr_employee_numbers() -> None:
    person = new_person(
        uuid.uuid4(),
        kind=TenantKind.BUYER,
        name="N",
        email="n@x.fi",
        roles=[Role.EMPLOYEE],
        hr_employee_number=" 100234 ",
    )
    assert person.hr_employee_number == "100234"
    with pytest.raises(InvalidEntry) as caught:
        new_person(
            uuid.uuid4(),
            kind=TenantKind.PROVIDER,
            name="N",
            email="n@x.fi",
            roles=[Role.SUPERVISOR],
            hr_employee_number="100234",
        )
    assert refused(caught) == "hrEmployeeNumber"


def _buyer_person(*roles: Role) -> Person:
    return new_person(uuid.uuid4(), kind=TenantKind.BUYER, name="Esihenkilö", email="e@x.fi", roles=roles)


def test_a_person_is_deactivated_never_changed_afterwards() -> None:
    person = _buyer_person(Role.EMPLOYEE)
    deactivated = deactivate_person(person)
    assert (deactivated.active, deactivated.version) == (False, 2)
    assert deactivate_person(deactivated) is deactivated
    with pytest.raises(StateConflict):
        change_person(deactivated, TenantKind.BUYER, PersonChanges(name="X"))


def test_a_role_change_is_checked_against_the_tenant_kind() -> None:
    person = _buyer_person(Role.EMPLOYEE)
    changed = change_person(person, TenantKind.BUYER, PersonChanges(roles=[Role.APPROVER]))
    assert (changed.roles, changed.version) == ((Role.APPROVER,), 2)
    with pytest.raises(InvalidEntry):
        change_person(person, TenantKind.BUYER, PersonChanges(roles=[Role.SUPERVISOR]))


def test_only_an_active_approver_may_approve() -> None:
    check_may_approve(_buyer_person(Role.APPROVER))
    for person in (_buyer_person(Role.EMPLOYEE), deactivate_person(_buyer_person(Role.APPROVER))):
        with pytest.raises(InvalidEntry) as caught:
            check_may_approve(person)
        assert refused(caught) == "personId"


# --- org units and cost centres ---


def test_an_org_unit_cannot_move_under_itself_or_its_own_sub_unit() -> None:
    top = new_org_unit(uuid.uuid4(), name="Sosiaalipalvelut", parent_id=None)
    child = new_org_unit(uuid.uuid4(), name="Lastensuojelu", parent_id=top.org_unit_id)
    with pytest.raises(InvalidEntry) as caught:
        change_org_unit(top, parent_id=top.org_unit_id)
    assert refused(caught) == "parentId"
    with pytest.raises(InvalidEntry):
        change_org_unit(top, parent_id=child.org_unit_id, ancestors_of_parent=[top.org_unit_id])
    moved = change_org_unit(child, parent_id=None)
    assert (moved.parent_id, moved.version) == (None, 2)
    assert change_org_unit(child, name="Lastensuojelu") is child


def test_a_cost_centre_code_and_budget_are_checked() -> None:
    unit = uuid.uuid4()
    cost_centre = new_cost_centre(
        uuid.uuid4(), org_unit_id=unit, code=" 4100-KP ", name="Ls", yearly_budget_cents=0
    )
    assert cost_centre.code == "4100-KP"
    for code in ("", "-4100", "41 00", "x" * 33):
        with pytest.raises(InvalidEntry) as caught:
            new_cost_centre(uuid.uuid4(), org_unit_id=unit, code=code, name="Ls", yearly_budget_cents=0)
        assert refused(caught) == "code"
    with pytest.raises(InvalidEntry) as caught:
        change_cost_centre(cost_centre, CostCentreChanges(yearly_budget_cents=-1))
    assert refused(caught) == "yearlyBudgetCents"


def test_a_deactivated_cost_centre_does_not_change() -> None:
    cost_centre = new_cost_centre(
        uuid.uuid4(), org_unit_id=uuid.uuid4(), code="4100", name="Ls", yearly_budget_cents=100
    )
    deactivated = deactivate_cost_centre(cost_centre)
    assert (deactivated.active, deactivated.version) == (False, 2)
    with pytest.raises(StateConflict):
        change_cost_centre(deactivated, CostCentreChanges(name="X"))


# --- supervisors and the evidence of their qualifications ---


def _supervisor() -> Person:
    return new_person(
        uuid.uuid4(), kind=TenantKind.PROVIDER, name="Ohjaaja", email="o@x.fi", roles=[Role.SUPERVISOR]
    )


OFFER = SupervisorOffer(
    forms=[SupervisionForm.INDIVIDUAL, SupervisionForm.GROUP, SupervisionForm.INDIVIDUAL],
    languages=["FI", "sv"],
    regions=["Pirkanmaa", "FI-11"],
    delivery_modes=[DeliveryMode.REMOTE],
    available=True,
)


def test_a_profile_is_normalised_and_repeats_dropped() -> None:
    profile = new_supervisor_profile(_supervisor(), OFFER, today=TODAY, verifiers=())
    assert profile.forms == (SupervisionForm.INDIVIDUAL, SupervisionForm.GROUP)
    assert profile.languages == ("fi", "sv")
    assert (profile.available, profile.version) == (True, 1)


def test_there_are_ten_forms_and_three_delivery_modes() -> None:
    assert len(SupervisionForm) == 10
    assert {mode.value for mode in DeliveryMode} == {"remote", "at_buyer", "at_supervisor"}


@pytest.mark.parametrize("language", ["xx", "fin", "", "f"])
def test_a_language_is_an_iso_639_1_code(language: str) -> None:
    with pytest.raises(InvalidEntry) as caught:
        new_supervisor_profile(
            _supervisor(), SupervisorOffer(languages=["fi", language]), today=TODAY, verifiers=()
        )
    assert refused(caught) == "languages[1]"


def test_only_an_active_supervisor_has_a_profile() -> None:
    admin = new_person(
        uuid.uuid4(), kind=TenantKind.PROVIDER, name="A", email="a@x.fi", roles=[Role.PROVIDER_ADMIN]
    )
    for person in (admin, deactivate_person(_supervisor())):
        with pytest.raises(InvalidEntry) as caught:
            new_supervisor_profile(person, SupervisorOffer(), today=TODAY, verifiers=())
        assert refused(caught) == "personId"


@pytest.mark.parametrize("missing", ["forms", "languages", "delivery_modes"])
def test_an_available_supervisor_offers_a_form_a_language_and_a_delivery_mode(missing: str) -> None:
    offer = SupervisorOffer(**{**{f: getattr(OFFER, f) for f in OFFER.__struct_fields__}, missing: []})
    with pytest.raises(InvalidEntry):
        new_supervisor_profile(_supervisor(), offer, today=TODAY, verifiers=())
    unavailable = SupervisorOffer(
        **{**{f: getattr(offer, f) for f in offer.__struct_fields__}, "available": False}
    )
    assert new_supervisor_profile(_supervisor(), unavailable, today=TODAY, verifiers=()).available is False


def _with(*qualifications: object) -> SupervisorOffer:
    return SupervisorOffer(qualifications=qualifications)  # type: ignore[arg-type]


def test_story_training_is_kept_with_institution_date_and_ects() -> None:
    training = StoryTraining(institution=" Metropolia ", completed_on=dt.date(2019, 5, 31), ects=60.0)
    profile = new_supervisor_profile(_supervisor(), _with(training), today=TODAY, verifiers=())
    assert profile.qualifications == (
        StoryTraining(institution="Metropolia", completed_on=dt.date(2019, 5, 31), ects=60.0),
    )
    zero = StoryTraining(institution="X", completed_on=TODAY, ects=0.0)
    assert new_supervisor_profile(_supervisor(), _with(zero), today=TODAY, verifiers=()).qualifications == (
        zero,
    )


@pytest.mark.parametrize(
    ("training", "field"),
    [
        (
            StoryTraining(institution="X", completed_on=dt.date(2019, 1, 1), ects=-0.5),
            "qualifications[1].ects",
        ),
        (
            StoryTraining(institution="X", completed_on=dt.date(2019, 1, 1), ects=math.nan),
            "qualifications[1].ects",
        ),
        (
            StoryTraining(institution=" ", completed_on=dt.date(2019, 1, 1), ects=60),
            "qualifications[1].institution",
        ),
        (
            StoryTraining(institution="X", completed_on=TODAY + dt.timedelta(days=1), ects=60),
            "qualifications[1].completedOn",
        ),
    ],
)
def test_story_training_evidence_rules(training: StoryTraining, field: str) -> None:
    first = OtherQualification(description="Ratkaisukeskeinen lyhytterapeutti")
    with pytest.raises(InvalidEntry) as caught:
        new_supervisor_profile(_supervisor(), _with(first, training), today=TODAY, verifiers=())
    assert refused(caught) == field


def test_a_valvira_registration_needs_a_number_a_date_and_a_verifying_provider_admin() -> None:
    verifier = uuid.uuid4()
    registration = ValviraRegistration(
        registration_number=" 10012345678 ", verified_on=TODAY, verified_by=verifier
    )
    assert verifiers_needed([registration, OtherQualification(description="x")]) == {verifier}
    profile = new_supervisor_profile(_supervisor(), _with(registration), today=TODAY, verifiers={verifier})
    assert profile.qualifications == (
        ValviraRegistration(registration_number="10012345678", verified_on=TODAY, verified_by=verifier),
    )
    with pytest.raises(InvalidEntry) as caught:
        new_supervisor_profile(_supervisor(), _with(registration), today=TODAY, verifiers=())
    assert refused(caught) == "qualifications[0].verifiedBy"


@pytest.mark.parametrize(
    ("number", "verified_on", "field"),
    [
        ("131052-308T", TODAY, "qualifications[0].registrationNumber"),
        ("ABC", TODAY, "qualifications[0].registrationNumber"),
        ("10012345678", TODAY + dt.timedelta(days=1), "qualifications[0].verifiedOn"),
    ],
)
def test_valvira_registration_evidence_rules(number: str, verified_on: dt.date, field: str) -> None:
    verifier = uuid.uuid4()
    registration = ValviraRegistration(
        registration_number=number, verified_on=verified_on, verified_by=verifier
    )
    with pytest.raises(InvalidEntry) as caught:
        new_supervisor_profile(_supervisor(), _with(registration), today=TODAY, verifiers={verifier})
    assert refused(caught) == field


def test_other_evidence_needs_a_description() -> None:
    with pytest.raises(InvalidEntry) as caught:
        new_supervisor_profile(
            _supervisor(), _with(OtherQualification(description="  ")), today=TODAY, verifiers=()
        )
    assert refused(caught) == "qualifications[0].description"


def test_a_supervisor_who_leaves_or_loses_the_role_is_withdrawn() -> None:
    supervisor = _supervisor()
    profile = new_supervisor_profile(supervisor, OFFER, today=TODAY, verifiers=())
    assert withdraw_if_not_supervising(profile, supervisor) is profile
    withdrawn = withdraw_if_not_supervising(profile, deactivate_person(supervisor))
    assert (withdrawn.available, withdrawn.version) == (False, 2)
    with pytest.raises(InvalidEntry) as caught:
        set_availability(withdrawn, deactivate_person(supervisor), True)
    assert refused(caught) == "available"


def test_availability_and_offer_changes_count_versions() -> None:
    supervisor = _supervisor()
    profile = new_supervisor_profile(supervisor, OFFER, today=TODAY, verifiers=())
    assert set_availability(profile, supervisor, True) is profile
    off = set_availability(profile, supervisor, False)
    assert (off.available, off.version) == (False, 2)
    changed = change_supervisor_profile(
        off, supervisor, SupervisorOfferChanges(regions=["Uusimaa"], forms=UNSET), today=TODAY, verifiers=()
    )
    assert (changed.regions, changed.forms, changed.version) == (("Uusimaa",), off.forms, 3)
