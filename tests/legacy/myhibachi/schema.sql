-- MyHibachi-shaped legacy schema (test fixture; written for tenantry, not copied).
-- Reproduces the shape the Alembic chain of suryadizhang/mh-project- leaves behind: a `core`
-- generation keyed by uuid with Fernet ciphertext columns and `station_id` tenancy, beside an
-- older `public` generation (Stripe tables, integer-keyed bookings) with plaintext contact data,
-- numeric dollars and timestamps without time zone. See README.md in this folder.
-- Plain PostgreSQL 15/16: no extensions (gen_random_uuid() is built in since 13), no RLS.

CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS identity;
CREATE SCHEMA IF NOT EXISTS lead;
CREATE SCHEMA IF NOT EXISTS feedback;
CREATE SCHEMA IF NOT EXISTS integra;

-- Enum types as the revisions create them (unqualified names land in public).
CREATE TYPE booking_status AS ENUM
    ('new', 'deposit_pending', 'confirmed', 'completed', 'cancelled', 'no_show');
-- database/migrations/007a_cancellation_enum.sql adds the two-step cancellation state.
ALTER TYPE booking_status ADD VALUE IF NOT EXISTS 'cancellation_requested';
CREATE TYPE message_channel AS ENUM ('web_chat', 'sms', 'email', 'phone', 'admin');
CREATE TYPE thread_status AS ENUM ('active', 'waiting', 'resolved', 'escalated');
CREATE TYPE lead_source AS ENUM
    ('web_quote', 'chat', 'instagram', 'facebook', 'google', 'yelp', 'sms', 'phone',
     'referral', 'event');
CREATE TYPE lead_status AS ENUM
    ('new', 'working', 'qualified', 'disqualified', 'converted', 'nurturing');
CREATE TYPE lead_quality AS ENUM ('hot', 'warm', 'cold');
CREATE TYPE contact_channel AS ENUM
    ('email', 'sms', 'instagram', 'facebook', 'google', 'yelp', 'web');
CREATE TYPE bookingstatus AS ENUM
    ('pending', 'confirmed', 'seated', 'completed', 'cancelled', 'no_show');
CREATE TYPE paymentprovider AS ENUM
    ('STRIPE', 'VENMO', 'ZELLE', 'BANK_OF_AMERICA', 'PLAID', 'CASH', 'CHECK', 'OTHER');
CREATE TYPE feedback.review_rating AS ENUM ('great', 'good', 'okay', 'could_be_better');
CREATE TYPE feedback.review_status AS ENUM
    ('pending', 'submitted', 'escalated', 'resolved', 'archived');

-- 000_create_base_users: staff/admin accounts (password hashes; not migrated).
CREATE TABLE public.users (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    email varchar(255) NOT NULL CONSTRAINT uq_users_email UNIQUE,
    password_hash varchar(255) NOT NULL,
    first_name varchar(100) NOT NULL,
    last_name varchar(100) NOT NULL,
    phone varchar(20),
    role varchar(20) NOT NULL DEFAULT 'customer'
        CONSTRAINT ck_users_role_valid CHECK (role IN ('customer', 'admin', 'super_admin', 'staff')),
    is_active boolean NOT NULL DEFAULT true,
    is_verified boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- 004_station_rbac: stations are the locations; every business row carries station_id.
CREATE TABLE identity.stations (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    name varchar(100) NOT NULL,
    code varchar(20) NOT NULL CONSTRAINT unique_station_code UNIQUE,
    display_name varchar(200) NOT NULL,
    email varchar(255),
    phone varchar(50),
    address text,
    city varchar(100),
    state varchar(50),
    postal_code varchar(20),
    country varchar(100) NOT NULL DEFAULT 'US',
    timezone varchar(50) NOT NULL DEFAULT 'America/New_York',
    status varchar(20) NOT NULL DEFAULT 'active'
        CONSTRAINT station_status_valid
        CHECK (status IN ('active', 'inactive', 'suspended', 'maintenance')),
    settings json NOT NULL DEFAULT '{}',
    business_hours json,
    service_area_radius integer,
    max_concurrent_bookings integer NOT NULL DEFAULT 10,
    booking_lead_time_hours integer NOT NULL DEFAULT 24,
    branding_config json,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The revision inserts this row itself and backfills every older core row onto it.
INSERT INTO identity.stations (id, name, code, display_name, status, created_at, updated_at)
VALUES (gen_random_uuid(), 'Default Station', 'DEFAULT', 'My Hibachi - Default Location',
        'active', now(), now());

CREATE TABLE identity.station_users (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    station_id uuid NOT NULL REFERENCES identity.stations (id) ON DELETE CASCADE,
    role varchar(30) NOT NULL DEFAULT 'customer_support',
    additional_permissions json NOT NULL DEFAULT '[]',
    assigned_by uuid REFERENCES public.users (id) ON DELETE SET NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    is_active boolean NOT NULL DEFAULT true,
    is_primary_station boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT unique_user_station UNIQUE (user_id, station_id)
);

-- 001 (+ station_id from 004_station_rbac, soft delete from the start).
-- email_encrypted / phone_encrypted hold Fernet tokens ('gAAAAA...'), or plaintext written in
-- the application's passthrough mode (no key configured), or '' for "none".
CREATE TABLE core.customers (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    first_name varchar(100) NOT NULL,
    last_name varchar(100) NOT NULL,
    email_encrypted text NOT NULL,
    phone_encrypted text NOT NULL,
    consent_sms boolean NOT NULL,
    consent_email boolean NOT NULL,
    consent_updated_at timestamptz,
    timezone varchar(50) NOT NULL,
    tags varchar(50)[],
    notes text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    station_id uuid NOT NULL
        CONSTRAINT fk_customers_station REFERENCES identity.stations (id) ON DELETE RESTRICT
);
CREATE UNIQUE INDEX idx_customer_station_email ON core.customers (station_id, email_encrypted);

CREATE TABLE core.chefs (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    name varchar(100) NOT NULL,
    email varchar(255) NOT NULL,
    phone varchar(20),
    zones varchar(50)[] NOT NULL,
    skills varchar(50)[],
    google_calendar_id varchar(255),
    buffer_setup_minutes integer NOT NULL,
    buffer_teardown_minutes integer NOT NULL,
    is_active boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

-- 001 + 004 (station_id) + fe61eb9d1264 (version) + 013 (deadlines, naive) + 014 (sms consent).
CREATE TABLE core.bookings (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES core.customers (id) ON DELETE RESTRICT,
    date date NOT NULL,
    slot time NOT NULL,
    address_encrypted text NOT NULL,
    zone varchar(50) NOT NULL,
    chef_id uuid REFERENCES core.chefs (id) ON DELETE SET NULL,
    status booking_status NOT NULL,
    party_adults integer NOT NULL CONSTRAINT check_party_adults_positive CHECK (party_adults > 0),
    party_kids integer NOT NULL CONSTRAINT check_party_kids_non_negative CHECK (party_kids >= 0),
    deposit_due_cents integer NOT NULL
        CONSTRAINT check_deposit_non_negative CHECK (deposit_due_cents >= 0),
    total_due_cents integer NOT NULL,
    menu_items jsonb,
    special_requests text,
    notes text,
    source varchar(50) NOT NULL,
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    station_id uuid NOT NULL
        CONSTRAINT fk_bookings_station REFERENCES identity.stations (id) ON DELETE RESTRICT,
    version integer NOT NULL DEFAULT 1,
    customer_deposit_deadline timestamp,
    internal_deadline timestamp,
    deposit_deadline timestamp,
    deposit_confirmed_at timestamp,
    deposit_confirmed_by varchar(255),
    hold_on_request boolean NOT NULL DEFAULT false,
    held_by varchar(255),
    held_at timestamp,
    hold_reason text,
    sms_consent boolean NOT NULL DEFAULT false,
    sms_consent_timestamp timestamptz,
    CONSTRAINT check_total_gte_deposit CHECK (total_due_cents >= deposit_due_cents)
);
CREATE UNIQUE INDEX idx_booking_date_slot_active ON core.bookings (date, slot, status)
    WHERE status NOT IN ('cancelled', 'completed', 'no_show') AND deleted_at IS NULL;

CREATE TABLE core.message_threads (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES core.customers (id) ON DELETE CASCADE,
    channel message_channel NOT NULL,
    external_thread_id varchar(255),
    status thread_status NOT NULL,
    assigned_agent_id uuid,
    ai_mode boolean NOT NULL,
    last_message_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    station_id uuid NOT NULL
        CONSTRAINT fk_message_threads_station REFERENCES identity.stations (id) ON DELETE RESTRICT
);

CREATE TABLE core.messages (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    thread_id uuid NOT NULL REFERENCES core.message_threads (id) ON DELETE CASCADE,
    direction varchar(10) NOT NULL
        CONSTRAINT check_message_direction CHECK (direction IN ('inbound', 'outbound')),
    content text NOT NULL,
    sender_type varchar(20) NOT NULL
        CONSTRAINT check_sender_type CHECK (sender_type IN ('customer', 'agent', 'ai', 'system')),
    sender_id uuid,
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- 003_add_lead_newsletter_schemas: the lead has no contact columns of its own.
CREATE TABLE lead.leads (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    source lead_source NOT NULL,
    status lead_status NOT NULL,
    quality lead_quality,
    customer_id uuid REFERENCES core.customers (id) ON DELETE SET NULL,
    score numeric(5, 2) NOT NULL CONSTRAINT check_lead_score_range CHECK (score >= 0 AND score <= 100),
    assigned_to varchar(100),
    last_contact_date timestamptz,
    follow_up_date timestamptz,
    conversion_date timestamptz,
    lost_reason text,
    utm_source varchar(100),
    utm_medium varchar(100),
    utm_campaign varchar(100),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE lead.lead_contacts (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    lead_id uuid NOT NULL REFERENCES lead.leads (id) ON DELETE CASCADE,
    channel contact_channel NOT NULL,
    handle_or_address text NOT NULL,
    verified boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lead.lead_context (
    lead_id uuid NOT NULL PRIMARY KEY REFERENCES lead.leads (id) ON DELETE CASCADE,
    party_size_adults integer,
    party_size_kids integer,
    estimated_budget_cents integer,
    event_date_pref date,
    event_date_range_start date,
    event_date_range_end date,
    zip_code varchar(10),
    service_type varchar(50),
    notes text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- 004_review_system: post-event feedback, rated in words, not stars.
CREATE TABLE feedback.customer_reviews (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    station_id uuid NOT NULL REFERENCES identity.stations (id) ON DELETE RESTRICT,
    booking_id uuid NOT NULL REFERENCES core.bookings (id) ON DELETE RESTRICT,
    customer_id uuid NOT NULL REFERENCES core.customers (id) ON DELETE RESTRICT,
    rating feedback.review_rating NOT NULL,
    status feedback.review_status NOT NULL,
    complaint_text text,
    improvement_suggestions text,
    left_yelp_review boolean NOT NULL,
    left_google_review boolean NOT NULL,
    external_review_date timestamptz,
    sms_sent_at timestamptz,
    sms_message_id varchar(100),
    review_link varchar(500),
    admin_notified_at timestamptz,
    ai_escalated_at timestamptz,
    resolved_at timestamptz,
    resolved_by uuid,
    resolution_notes text,
    coupon_issued boolean NOT NULL,
    coupon_id uuid,
    ip_address varchar(45),
    user_agent varchar(500),
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    submitted_at timestamptz,
    CONSTRAINT check_complaint_required_for_negative CHECK (
        (rating IN ('great', 'good') AND complaint_text IS NULL)
        OR (rating IN ('okay', 'could_be_better') AND complaint_text IS NOT NULL))
);

-- 001 integra: raw payment events (provider payloads; not migrated).
CREATE TABLE integra.payment_events (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    provider varchar(20) NOT NULL,
    provider_id varchar(255) NOT NULL,
    method varchar(20) NOT NULL,
    amount_cents integer NOT NULL CONSTRAINT check_payment_amount_positive CHECK (amount_cents > 0),
    currency varchar(3) NOT NULL,
    occurred_at timestamptz NOT NULL,
    memo text,
    raw_data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- 001_initial_stripe_tables: the public generation, string keys, plaintext contact data,
-- numeric dollars.
CREATE TABLE public.customers (
    id varchar NOT NULL PRIMARY KEY,
    user_id varchar NOT NULL UNIQUE,
    email varchar NOT NULL UNIQUE,
    stripe_customer_id varchar NOT NULL UNIQUE,
    name varchar,
    phone varchar,
    preferred_payment_method varchar,
    total_spent numeric(10, 2),
    total_bookings integer,
    zelle_savings numeric(10, 2),
    loyalty_tier varchar,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz
);

-- booking_id is a string without a foreign key (Stripe metadata): orphans happen.
CREATE TABLE public.payments (
    id varchar NOT NULL PRIMARY KEY,
    user_id varchar NOT NULL,
    booking_id varchar,
    stripe_payment_intent_id varchar,
    stripe_customer_id varchar REFERENCES public.customers (stripe_customer_id),
    amount numeric(10, 2) NOT NULL,
    currency varchar,
    status varchar NOT NULL,
    method varchar NOT NULL,
    payment_type varchar,
    description text,
    metadata_json text,
    stripe_fee numeric(10, 2),
    net_amount numeric(10, 2),
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz
);

-- 9029ba0ab3fb: integer-keyed bookings pointing at public.customers, naive timestamps.
-- (Its `payments` table is skipped by the revision because the Stripe one exists already.)
CREATE TABLE public.bookings (
    id serial PRIMARY KEY,
    customer_id varchar NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE,
    booking_datetime timestamp NOT NULL,
    party_size integer NOT NULL,
    status bookingstatus NOT NULL DEFAULT 'pending',
    version integer NOT NULL DEFAULT 1,
    contact_phone varchar(20),
    contact_email varchar(255),
    sms_consent boolean NOT NULL DEFAULT false,
    sms_consent_timestamp timestamp,
    special_requests text,
    internal_notes text,
    confirmed_at timestamp,
    seated_at timestamp,
    completed_at timestamp,
    cancelled_at timestamp,
    cancellation_reason text,
    customer_deposit_deadline timestamp,
    internal_deadline timestamp,
    deposit_deadline timestamp,
    deposit_confirmed_at timestamp,
    deposit_confirmed_by varchar(255),
    hold_on_request boolean NOT NULL DEFAULT false,
    held_by varchar(255),
    held_at timestamp,
    hold_reason text,
    table_number varchar(10),
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- 009_payment_notifications: payments of core bookings, in dollars, free-text status.
CREATE TABLE public.catering_payments (
    id serial PRIMARY KEY,
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    booking_id uuid NOT NULL REFERENCES core.bookings (id) ON DELETE CASCADE,
    notification_id integer,
    amount numeric(10, 2) NOT NULL,
    payment_method paymentprovider NOT NULL,
    status varchar(50) DEFAULT 'pending',
    transaction_id varchar(255),
    sender_name varchar(255),
    sender_email varchar(255),
    sender_phone varchar(20),
    sender_username varchar(100),
    payment_type varchar(50) DEFAULT 'full',
    processed_at timestamp,
    confirmed_at timestamp,
    confirmation_sent boolean DEFAULT false,
    payment_note text,
    admin_note text
);
CREATE UNIQUE INDEX idx_payment_transaction_id ON public.catering_payments (transaction_id);
