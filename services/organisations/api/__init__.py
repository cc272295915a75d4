"""HTTP API of the organisations service.

One module per sub-domain (directory, login, oauth, onboarding, schemas, tenants);
the public names are re-exported here.
"""

from __future__ import annotations

from services.organisations.api.directory import (
    DIRECTORY_ROUTES,
    CostCentreController,
    OrgUnitController,
    PersonController,
    SupervisorProfileController,
)
from services.organisations.api.login import (
    IdentityProviderController,
    IdentityProviderIn,
    IdentityProviderOut,
    LoginController,
    provider_out,
)
from services.organisations.api.oauth import (
    MachineClientController,
    OAuthController,
    TokenResponse,
    jwks_route,
    token_response,
)
from services.organisations.api.onboarding import (
    InvitationCreate,
    InvitationOut,
    OnboardingController,
)
from services.organisations.api.schemas import (
    ApproverOut,
    AvailabilityUpdate,
    CostCentreCreate,
    CostCentreOut,
    CostCentreUpdate,
    EInvoiceAddressBody,
    EInvoiceAddressOut,
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
    PostalAddressBody,
    QualificationBody,
    StoryTrainingBody,
    SupervisorProfileCreate,
    SupervisorProfileOut,
    SupervisorProfileUpdate,
    TenantCreate,
    TenantOut,
    TenantUpdate,
    ValviraRegistrationBody,
)
from services.organisations.api.tenants import (
    TenantController,
)

__all__ = [
    "DIRECTORY_ROUTES",
    "ApproverOut",
    "AvailabilityUpdate",
    "CostCentreController",
    "CostCentreCreate",
    "CostCentreOut",
    "CostCentreUpdate",
    "EInvoiceAddressBody",
    "EInvoiceAddressOut",
    "IdentityEventOut",
    "IdentityProviderController",
    "IdentityProviderIn",
    "IdentityProviderOut",
    "InvitationCreate",
    "InvitationOut",
    "LinkedIdentityOut",
    "LoginController",
    "MachineClientController",
    "OAuthController",
    "OnboardingController",
    "OrgUnitController",
    "OrgUnitCreate",
    "OrgUnitOut",
    "OrgUnitUpdate",
    "OtherQualificationBody",
    "OwnPersonOut",
    "PersonController",
    "PersonCreate",
    "PersonOut",
    "PersonUpdate",
    "PostalAddressBody",
    "QualificationBody",
    "StoryTrainingBody",
    "SupervisorProfileController",
    "SupervisorProfileCreate",
    "SupervisorProfileOut",
    "SupervisorProfileUpdate",
    "TenantController",
    "TenantCreate",
    "TenantOut",
    "TenantUpdate",
    "TokenResponse",
    "ValviraRegistrationBody",
    "jwks_route",
    "provider_out",
    "token_response",
]
