"""SQLAlchemy 2.x models. Times are epoch seconds on the simulated clock (floats), ids are strings.

No database cascades on rows that have lifecycle hooks: services delete dependants explicitly so
every hook runs (DESIGN.md §2).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")
# A JSON column whose Python None is SQL NULL (not JSON null), so `IS NULL` finds the rows without one.
NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: Json, list[Any]: Json, Any: Json}


class Clock(Base):
    """The simulated clock: real time plus an offset, or frozen at a value."""

    __tablename__ = "clock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    frozen_at: Mapped[float | None] = mapped_column(Float)
    # A new random value for every new database (a reset makes one): what process-wide caches are keyed by, so a
    # cache filled before a reset (by this process or another on the same database) is never consulted after it.
    epoch: Mapped[str | None] = mapped_column(String(36))


class Bootstrap(Base):
    """The ids of the bootstrap tenant, subscription and deployer principal.

    The deployer's secret is kept here in clear (it is also stored hashed on the credential, which is
    what the token service checks) because `arm-sim env` must print it from any process that shares
    the database.
    """

    __tablename__ = "bootstrap"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    subscription_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(String(36))
    client_secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)


class SimSetting(Base):
    """Simulator switches that must be shared by every process (e.g. credential rolling on/off)."""

    __tablename__ = "sim_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256))
    default_domain: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[float] = mapped_column(Float)


class Subscription(Base):
    __tablename__ = "subscriptions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    # every known namespace counts as registered unless explicitly unregistered
    unregistered_namespaces: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[float] = mapped_column(Float)


class ResourceGroup(Base):
    __tablename__ = "resource_groups"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    id: Mapped[str] = mapped_column(String(400))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    name: Mapped[str] = mapped_column(String(90))
    location: Mapped[str] = mapped_column(String(64))
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    managed_by: Mapped[str | None] = mapped_column(String(400))
    provisioning_state: Mapped[str] = mapped_column(String(32), default="Succeeded")
    created_at: Mapped[float] = mapped_column(Float)
    changed_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(64))
    changed_by: Mapped[str | None] = mapped_column(String(64))


class Resource(Base):
    """One row per ARM resource of any type (tracked, child or extension)."""

    __tablename__ = "resources"
    # Keys compare bytewise on both databases (PostgreSQL's column collation is "C", SQLite's BINARY is the default):
    # everything below a resource is the key range [key + "/", key + "0"), and lists come in the same order.
    key: Mapped[str] = mapped_column(String(1024).with_variant(String(1024, collation="C"), "postgresql"),
                                     primary_key=True)
    id: Mapped[str] = mapped_column(String(1024))
    subscription_id: Mapped[str | None] = mapped_column(String(36))
    resource_group_key: Mapped[str | None] = mapped_column(ForeignKey("resource_groups.key"))
    parent_key: Mapped[str | None] = mapped_column(String(1024))
    type: Mapped[str] = mapped_column(String(256))
    type_key: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    location: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[dict[str, Any] | None] = mapped_column(Json)
    sku: Mapped[dict[str, Any] | None] = mapped_column(Json)
    kind: Mapped[str | None] = mapped_column(String(128))
    plan: Mapped[dict[str, Any] | None] = mapped_column(Json)
    identity: Mapped[dict[str, Any] | None] = mapped_column(Json)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # zones, managedBy, extendedLocation …
    etag: Mapped[str] = mapped_column(String(64))
    api_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    changed_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(64))
    changed_by: Mapped[str | None] = mapped_column(String(64))

    # Lists are keyset pages (`… AND key > :last ORDER BY key LIMIT n`): each index ends with `key`, so a page of a
    # group, a parent's children, a type in a group or in a subscription reads its own rows only, whatever the size.
    __table_args__ = (
        Index("ix_resources_rg_type", "resource_group_key", "type_key"),
        Index("ix_resources_parent_key_key", "parent_key", "key"),
        Index("ix_resources_parent_type_key", "parent_key", "type_key", "key"),
        Index("ix_resources_sub_type_key", "subscription_id", "type_key", "key"),
        Index("ix_resources_sub_key", "subscription_id", "key"),
        # names unique across Azure (storage accounts, sites, registries, SQL servers) and role definitions by
        # GUID are looked up by type and lower-cased name, in every subscription
        Index("ix_resources_type_lower_name", "type_key", text("lower(name)")),
    )
    # The etag is the row's version: every UPDATE and DELETE of a loaded row says `WHERE etag = <as loaded>`, so a
    # writer that lost a race to another (thread, process or host) finds no row and fails (StaleDataError) instead
    # of overwriting it. The service sets each new etag itself.
    __mapper_args__ = {"version_id_col": etag, "version_id_generator": False}


class Application(Base):
    __tablename__ = "applications"
    object_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(36), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[float] = mapped_column(Float)
    # Graph's writable properties set through Graph (identifierUris, signInAudience, web, api …); None: defaults
    properties: Mapped[dict[str, Any] | None] = mapped_column(Json)


class ServicePrincipal(Base):
    # An app id names one application, but its service principal exists once in every tenant that uses it:
    # Microsoft Graph's first-party principal is in every tenant with the same appId.
    __tablename__ = "service_principals"
    __table_args__ = (UniqueConstraint("tenant_id", "app_id"),)
    object_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(36), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    service_principal_type: Mapped[str] = mapped_column(String(32))  # Application | ManagedIdentity
    alternative_names: Mapped[list[Any]] = mapped_column(default=list)
    service_principal_names: Mapped[list[Any]] = mapped_column(default=list)
    application_object_id: Mapped[str | None] = mapped_column(String(36))
    # the hosting resource (system-assigned) or the identity resource (user-assigned)
    resource_key: Mapped[str | None] = mapped_column(String(1024), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    # Graph's writable properties set through Graph (tags, notes, description …); None: defaults
    properties: Mapped[dict[str, Any] | None] = mapped_column(Json)


class ApplicationFederatedCredential(Base):
    """Graph's federatedIdentityCredential on an application: an external issuer's `sub` the application trusts
    (workload identity federation). A user-assigned identity's federated credentials are ARM resources instead."""

    __tablename__ = "application_federated_credentials"
    __table_args__ = (UniqueConstraint("application_object_id", "name_key"),)  # the name is an alternate key
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_object_id: Mapped[str] = mapped_column(ForeignKey("applications.object_id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120))  # case-folded
    issuer: Mapped[str] = mapped_column(String(600))
    subject: Mapped[str] = mapped_column(String(600))
    audiences: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(String(600))
    created_at: Mapped[float] = mapped_column(Float)


class User(Base):
    """A Graph user: a member of a tenant's directory, signed in to nothing arm-sim serves (no delegated flows),
    but a principal that role assignments name. `upn_key` is the case-folded userPrincipalName, unique per tenant."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "upn_key"),)
    object_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_principal_name: Mapped[str] = mapped_column(String(256))
    upn_key: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(256))
    mail_nickname: Mapped[str] = mapped_column(String(64))
    account_enabled: Mapped[bool] = mapped_column(Boolean)
    password_hash: Mapped[str] = mapped_column(String(128))
    properties: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[float] = mapped_column(Float)


class GraphAppRoleAssignment(Base):
    """An app role of a resource's service principal (Microsoft Graph's application permissions) granted to a
    service principal: Graph's appRoleAssignment, whose id is Graph's 43-character key.

    Graph reads these into the `roles` claim of the principal's app-only Graph tokens. No foreign key: as with
    role assignments, a grant outlives a deleted principal (a re-created identity gets a new object id anyway).
    """

    __tablename__ = "graph_app_role_assignments"
    __table_args__ = (UniqueConstraint("principal_id", "resource_id", "app_role_id"),)  # a role is granted once
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    principal_id: Mapped[str] = mapped_column(String(36), index=True)
    resource_id: Mapped[str] = mapped_column(String(36), index=True)  # the resource's service principal
    app_role_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[float] = mapped_column(Float)


class Credential(Base):
    """A client secret (hashed) or an X.509 certificate registered for a client id."""

    __tablename__ = "credentials"
    key_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # password | certificate
    display_name: Mapped[str | None] = mapped_column(String(256))
    secret_hash: Mapped[str | None] = mapped_column(String(128))
    hint: Mapped[str | None] = mapped_column(String(8))
    certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    private_key_pem: Mapped[str | None] = mapped_column(Text)  # only for identities arm-sim acts for
    thumbprint_sha1: Mapped[str | None] = mapped_column(String(40), index=True)
    thumbprint_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    start_at: Mapped[float] = mapped_column(Float)
    end_at: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    expiry_recorded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SigningKey(Base):
    """A tenant's token-signing key: next -> active -> retired; retired keys stay published."""

    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))  # next | active | retired
    created_at: Mapped[float] = mapped_column(Float)
    activated_at: Mapped[float | None] = mapped_column(Float)
    retired_at: Mapped[float | None] = mapped_column(Float)
    publish_until: Mapped[float | None] = mapped_column(Float)


class IssuerKey(Base):
    """A signing key of an external OIDC issuer arm-sim plays (an AKS cluster's, GitHub Actions'): active -> retired,
    like a tenant's keys; a retired key stays published until every assertion it signed has expired. Kept apart from
    `signing_keys`, so no Entra resource server can ever take an issuer's assertion for an Entra token."""

    __tablename__ = "issuer_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(512), index=True)  # exactly as tokens carry it (case-sensitive)
    private_key_pem: Mapped[str] = mapped_column(Text)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))  # active | retired
    created_at: Mapped[float] = mapped_column(Float)
    publish_until: Mapped[float | None] = mapped_column(Float)


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    key: Mapped[str] = mapped_column(String(1200), primary_key=True)
    id: Mapped[str] = mapped_column(String(1200))
    name: Mapped[str] = mapped_column(String(36))
    scope: Mapped[str] = mapped_column(String(1100))
    scope_key: Mapped[str] = mapped_column(String(1100), index=True)
    role_definition_id: Mapped[str] = mapped_column(String(400))
    principal_id: Mapped[str] = mapped_column(String(36), index=True)
    principal_type: Mapped[str] = mapped_column(String(32))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))


class Operation(Base):
    """An ARM long-running operation, polled through Azure-AsyncOperation / Location."""

    __tablename__ = "operations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(36))
    namespace: Mapped[str] = mapped_column(String(128))
    location: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # InProgress | Succeeded | Failed | Canceled
    resource_id: Mapped[str] = mapped_column(String(1024))
    method: Mapped[str] = mapped_column(String(8))
    error: Mapped[dict[str, Any] | None] = mapped_column(Json)
    start_at: Mapped[float] = mapped_column(Float)
    end_at: Mapped[float | None] = mapped_column(Float)


class IdentityEndpoint(Base):
    """Where code "inside" a resource asks for tokens: a VM's IMDS or a site's App Service endpoint."""

    __tablename__ = "identity_endpoints"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # secret VM key or site key, as in URLs
    kind: Mapped[str] = mapped_column(String(16))  # vm | site
    resource_key: Mapped[str] = mapped_column(String(1024), index=True)
    secret: Mapped[str | None] = mapped_column(String(128))  # App Service IDENTITY_HEADER
    extension_port: Mapped[int | None] = mapped_column(Integer)  # legacy VM extension, when installed
    created_at: Mapped[float] = mapped_column(Float)


class Vault(Base):
    """A Key Vault's global name, its data-plane port (if one is lent to it) and its soft-delete state.

    The ARM resource row holds the vault's properties; this row outlives it while the vault is soft-deleted
    (the name stays reserved until purge; the port is given back), and `snapshot` keeps what recover restores.
    """

    __tablename__ = "vaults"
    name: Mapped[str] = mapped_column(String(24), primary_key=True)  # lower-case; vault names are global
    resource_id: Mapped[str] = mapped_column(String(400))
    resource_key: Mapped[str] = mapped_column(String(400), index=True)
    subscription_id: Mapped[str] = mapped_column(String(36))
    location: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(String(36))
    port: Mapped[int | None] = mapped_column(Integer, unique=True)  # None: reached by name only
    state: Mapped[str] = mapped_column(String(16))  # active | deleted
    purge_protection: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int] = mapped_column(Integer, default=90)
    deleted_at: Mapped[float | None] = mapped_column(Float)
    scheduled_purge_at: Mapped[float | None] = mapped_column(Float)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[float] = mapped_column(Float)


class VaultObject:
    """What every version of a vault object (secret or key) has: name, version, attributes, soft-delete state.

    Soft delete marks every version of the name.
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vault_name: Mapped[str] = mapped_column(ForeignKey("vaults.name"))
    name: Mapped[str] = mapped_column(String(127))
    name_key: Mapped[str] = mapped_column(String(127))
    version: Mapped[str] = mapped_column(String(32))
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    not_before: Mapped[float | None] = mapped_column(Float)
    expires: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    deleted_at: Mapped[float | None] = mapped_column(Float)
    scheduled_purge_at: Mapped[float | None] = mapped_column(Float)


class VaultSecret(VaultObject, Base):
    """One version of a Key Vault secret."""

    __tablename__ = "vault_secrets"
    value: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(255))
    # Set on the versions of a certificate's managed secret (domain.vault_certificates): its X.509 (`cer`), policy
    # and pending operation. A certificate is its secret's versions, so they share one version/soft-delete machinery.
    certificate: Mapped[dict[str, Any] | None] = mapped_column(NullableJson)

    __table_args__ = (Index("ix_vault_secrets_vault_name", "vault_name", "name_key"),)


class VaultKey(VaultObject, Base):
    """One version of a Key Vault key (RSA or EC), with its private key: arm-sim performs the operations."""

    __tablename__ = "vault_keys"
    kty: Mapped[str] = mapped_column(String(16))  # RSA | EC (| RSA-HSM | EC-HSM)
    key_ops: Mapped[list[Any]] = mapped_column(default=list)
    private_key_pem: Mapped[str] = mapped_column(Text)
    curve: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_vault_keys_vault_name", "vault_name", "name_key"),)


class Event(Base):
    """The append-only event log, ordered by `seq`, stamped on the simulated clock.

    Every data-plane read appends its decision, so the log carries one index only: `subject`, for the exact
    lookups (the audit's). Queries by kind pattern or time scan in `seq` order, and a LIKE pattern could not use
    an index on either database anyway.
    """

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(1024), index=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Deployment(Base):
    """A template deployment record (`Microsoft.Resources/deployments`) at a resource group or subscription.

    The record is ARM's deployment history: deleting it never touches the deployed resources. `properties` is the
    `DeploymentExtended.properties` shown by GET (secure parameter values already left out); `template` is what
    `exportTemplate` answers.
    """

    __tablename__ = "deployments"
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)  # the case-folded deployment id
    id: Mapped[str] = mapped_column(String(1024))
    scope_key: Mapped[str] = mapped_column(String(512), index=True)  # the case-folded resource group/subscription id
    subscription_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provisioning_state: Mapped[str] = mapped_column(String(16))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    template: Mapped[Any] = mapped_column(Json)
    created_at: Mapped[float] = mapped_column(Float)
    changed_at: Mapped[float] = mapped_column(Float)


class DeploymentOperation(Base):
    """One operation of a deployment (a resource's create/update/delete, or a nested deployment), in order."""

    __tablename__ = "deployment_operations"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_key: Mapped[str] = mapped_column(ForeignKey("deployments.key"), index=True)
    operation_id: Mapped[str] = mapped_column(String(32))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
