-- CarBot-shaped legacy source (AlperTom/CarBot), written for tenantry's migration tests.
-- Our own DDL reproducing the shape of the project's overlapping schema scripts on plain
-- PostgreSQL (no extensions, no RLS, no Supabase functions). See README.md for which real
-- script each table follows. Foreign keys that `DROP TABLE workshops CASCADE` removed in the
-- real project are absent here too.

CREATE SCHEMA IF NOT EXISTS auth;

-- Supabase's auth schema, reduced to the columns CarBot reads.
CREATE TABLE auth.users (
    id uuid PRIMARY KEY,
    email varchar(255),
    encrypted_password varchar(255),
    raw_user_meta_data jsonb DEFAULT '{}'::jsonb,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- Custom enum types of database/supabase-setup.sql.
CREATE TYPE message_type AS ENUM ('user', 'assistant', 'system');
CREATE TYPE conversation_status AS ENUM ('active', 'closed', 'transferred');

-- workshops: the uuid generation (supabase/schema.sql + supabase-workshop-schema.sql), with the
-- columns supabase/billing-schema.sql adds and `deleted_at`, which database/performance-indexes.sql
-- filters on. `iban` and `bank_details` are the fields lib/security/encryption.js and the
-- e-mail templates read (made in the dashboard; plaintext).
CREATE TABLE workshops (
    id uuid PRIMARY KEY,
    owner_id uuid,
    slug varchar(50) UNIQUE NOT NULL,
    name varchar(255) NOT NULL,
    owner_name varchar(255),
    owner_email varchar(255) UNIQUE NOT NULL,
    email varchar(255),
    phone varchar(50),
    website varchar(255),
    address text,
    city varchar(100),
    postal_code varchar(20),
    country varchar(2) DEFAULT 'DE',
    tax_id varchar(50),
    vat_number varchar(255),
    opening_hours text,
    services text[],
    specializations text[],
    business_type varchar(100),
    subscription_status varchar(50) DEFAULT 'trial',
    subscription_plan varchar(50) DEFAULT 'starter',
    trial_ends_at timestamptz,
    stripe_customer_id varchar(255),
    stripe_subscription_id varchar(255),
    payment_method_id varchar(255),
    billing_email varchar(255),
    billing_address jsonb DEFAULT '{}'::jsonb,
    iban varchar(34),
    bank_details text,
    active boolean DEFAULT true NOT NULL,
    verified boolean DEFAULT false NOT NULL,
    deleted_at timestamptz,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL
);

-- workshop_users (supabase/schema.sql): staff of a workshop, user in auth.users.
CREATE TABLE workshop_users (
    id uuid PRIMARY KEY,
    workshop_id uuid,
    user_id uuid,
    role varchar(50) DEFAULT 'employee' NOT NULL,
    permissions jsonb DEFAULT '[]'::jsonb,
    first_name varchar(100),
    last_name varchar(100),
    phone varchar(50),
    position varchar(100),
    active boolean DEFAULT true NOT NULL,
    invited_at timestamptz,
    accepted_at timestamptz,
    last_login timestamptz,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL,
    UNIQUE (workshop_id, user_id)
);

-- client_keys (database-setup.sql): the widget's API key of a workshop.
CREATE TABLE client_keys (
    id uuid PRIMARY KEY,
    workshop_id uuid,
    key_value text UNIQUE NOT NULL,
    name text NOT NULL,
    description text,
    permissions jsonb DEFAULT '{}',
    is_active boolean DEFAULT true,
    last_used_at timestamptz,
    created_at timestamptz DEFAULT now()
);

-- customers (database-setup.sql): "actually workshops/clients - legacy naming"; seed 002 counts
-- them as the workshops' end customers. One full name, no split.
CREATE TABLE customers (
    id uuid PRIMARY KEY,
    workshop_id uuid,
    slug text UNIQUE NOT NULL,
    name text NOT NULL,
    email text UNIQUE NOT NULL,
    phone text,
    address text,
    city text,
    postal_code text,
    logo text,
    website text,
    services text[] DEFAULT '{}',
    opening_hours text,
    google_reviews_link text,
    rating numeric(2, 1) CHECK (rating >= 0 AND rating <= 5),
    review_count integer DEFAULT 0,
    active boolean DEFAULT true,
    subscription_plan text DEFAULT 'basic',
    subscription_expires_at timestamptz,
    appointment_duration integer DEFAULT 60,
    appointment_buffer integer DEFAULT 15,
    preferences jsonb DEFAULT '{}',
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- workshop_clients (database-setup.sql): the CRM list; the same people as in customers again.
CREATE TABLE workshop_clients (
    id uuid PRIMARY KEY,
    workshop_id uuid,
    name text NOT NULL,
    email text,
    phone text,
    company text,
    position text,
    address text,
    notes text,
    status text DEFAULT 'active',
    tags text[],
    last_contact timestamptz,
    next_follow_up timestamptz,
    total_value numeric(10, 2) DEFAULT 0,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- customer_vehicles (database-enterprise-schema.sql), without its CHECK on the current year.
CREATE TABLE customer_vehicles (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    license_plate varchar(20),
    vin varchar(17),
    make varchar(100) NOT NULL,
    model varchar(100) NOT NULL,
    variant varchar(100),
    year integer,
    engine_type varchar(50),
    fuel_type varchar(30),
    mileage integer,
    last_service_date date,
    tuv_expiry date,
    is_active boolean DEFAULT true,
    notes text,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- leads: supabase/schema.sql (German names, fahrzeug/chatverlauf as JSONB) plus the columns the
-- app and later scripts add: workshop_id (database/package-features-migration.sql), email,
-- lead_score, estimated_value (database-setup.sql), deleted_at (performance-indexes.sql).
-- The real kunde_id is UNIQUE, which the app (kunde_id = workshop slug) cannot satisfy; left out.
CREATE TABLE leads (
    id uuid PRIMARY KEY,
    kunde_id varchar(50) NOT NULL,
    name varchar(255) NOT NULL,
    telefon varchar(50) NOT NULL,
    email text,
    anliegen text NOT NULL,
    fahrzeug jsonb,
    chatverlauf jsonb DEFAULT '[]'::jsonb NOT NULL,
    "timestamp" timestamptz DEFAULT now() NOT NULL,
    status varchar(50) DEFAULT 'new' NOT NULL,
    priority varchar(20) DEFAULT 'medium' NOT NULL,
    assigned_to varchar(255),
    source varchar(100) DEFAULT 'chatbot' NOT NULL,
    consent_given boolean DEFAULT false NOT NULL,
    consent_timestamp timestamptz,
    data_retention_until timestamptz DEFAULT (now() + interval '90 days') NOT NULL,
    last_contact timestamptz,
    next_follow_up timestamptz,
    follow_up_count integer DEFAULT 0,
    lead_score integer DEFAULT 0,
    estimated_value numeric(10, 2),
    workshop_id uuid,
    deleted_at timestamptz,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL
);

-- lead_scores (supabase-workshop-schema.sql): estimated_value in whole euros (integer).
CREATE TABLE lead_scores (
    id uuid PRIMARY KEY,
    lead_id uuid REFERENCES leads (id) ON DELETE CASCADE,
    workshop_id uuid,
    total_score integer NOT NULL,
    score_breakdown jsonb NOT NULL,
    classification varchar(50) NOT NULL,
    priority varchar(50) NOT NULL,
    estimated_value integer DEFAULT 0,
    recommendations jsonb DEFAULT '[]',
    created_at timestamptz DEFAULT now()
);

-- customer_services (database-setup.sql): price as numeric euros.
CREATE TABLE customer_services (
    id uuid PRIMARY KEY,
    workshop_id uuid,
    name text NOT NULL,
    description text,
    price numeric(10, 2),
    duration_minutes integer,
    category text,
    is_active boolean DEFAULT true,
    created_at timestamptz DEFAULT now()
);

-- Phase 2 service catalogue (database/phase2-schema.sql): timestamps without time zone.
CREATE TABLE service_categories (
    id uuid PRIMARY KEY,
    name varchar(255) NOT NULL,
    name_de varchar(255) NOT NULL,
    description text,
    description_de text,
    icon varchar(100),
    sort_order integer DEFAULT 0,
    is_active boolean DEFAULT true,
    created_at timestamp DEFAULT now()
);

CREATE TABLE master_services (
    id uuid PRIMARY KEY,
    category_id uuid REFERENCES service_categories (id),
    service_name varchar(255) NOT NULL,
    service_name_de varchar(255) NOT NULL,
    description text,
    description_de text,
    typical_duration_minutes integer,
    complexity_level varchar(20) DEFAULT 'medium',
    vehicle_types text[] DEFAULT '{}',
    tags text[] DEFAULT '{}',
    is_popular boolean DEFAULT false,
    created_at timestamp DEFAULT now()
);

CREATE TABLE workshop_services (
    id uuid PRIMARY KEY,
    workshop_id uuid,
    master_service_id uuid REFERENCES master_services (id),
    custom_name varchar(255),
    price_min numeric(10, 2),
    price_max numeric(10, 2),
    is_fixed_price boolean DEFAULT false,
    custom_description text,
    is_featured boolean DEFAULT false,
    is_active boolean DEFAULT true,
    display_order integer DEFAULT 0,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now(),
    UNIQUE (workshop_id, master_service_id)
);

-- appointments (database-setup.sql): free-text status in German and English spellings.
CREATE TABLE appointments (
    id uuid PRIMARY KEY,
    workshop_id uuid,
    customer_id uuid,
    lead_id uuid,
    appointment_date timestamptz NOT NULL,
    duration_minutes integer DEFAULT 60,
    service_type text,
    description text,
    status text DEFAULT 'scheduled',
    notes text,
    reminder_sent boolean DEFAULT false,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- Chat (database/supabase-setup.sql): one session per widget conversation, messages under it.
CREATE TABLE chat_sessions (
    id uuid PRIMARY KEY,
    workshop_id uuid NOT NULL,
    session_token varchar(255) NOT NULL,
    client_key varchar(255),
    visitor_id varchar(255),
    ip_address inet,
    user_agent text,
    browser_language varchar(10) DEFAULT 'de',
    country_code varchar(2) DEFAULT 'DE',
    landing_page_url text,
    referrer_url text,
    message_count integer DEFAULT 0,
    started_at timestamptz DEFAULT now(),
    last_activity timestamptz DEFAULT now(),
    ended_at timestamptz,
    status conversation_status DEFAULT 'active',
    lead_score integer DEFAULT 0,
    converted_to_lead boolean DEFAULT false,
    lead_converted_at timestamptz,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    UNIQUE (workshop_id, session_token)
);

CREATE TABLE chat_messages (
    id uuid PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    content text NOT NULL,
    message_type message_type NOT NULL,
    model varchar(100),
    tokens_used integer,
    processing_time_ms integer,
    confidence_score numeric(3, 2),
    detected_intent varchar(100),
    metadata jsonb DEFAULT '{}',
    client_key varchar(255),
    created_at timestamptz DEFAULT now(),
    processed_at timestamptz DEFAULT now()
);
CREATE INDEX idx_chat_messages_session_id ON chat_messages (session_id);

-- Billing (supabase/billing-schema.sql): the workshops' own Stripe payments, amount in cents.
CREATE TABLE payments (
    id uuid PRIMARY KEY,
    workshop_id uuid,
    stripe_invoice_id varchar(255),
    stripe_customer_id varchar(255) NOT NULL,
    stripe_subscription_id varchar(255),
    stripe_payment_intent_id varchar(255),
    amount integer NOT NULL,
    currency varchar(3) DEFAULT 'eur' NOT NULL,
    status varchar(50) NOT NULL,
    payment_method varchar(50),
    payment_date timestamptz,
    invoice_url text,
    description text,
    metadata jsonb DEFAULT '{}'::jsonb,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL
);

-- GDPR consent per widget key (supabase-schema.sql / database-setup.sql).
CREATE TABLE consent_records (
    id uuid PRIMARY KEY,
    client_key text NOT NULL,
    consent_data jsonb NOT NULL,
    ip_address inet,
    user_agent text,
    consent_version text DEFAULT '1.0',
    withdrawn_at timestamptz,
    created_at timestamptz DEFAULT now()
);

-- Demo rows the real scripts insert (supabase-workshop-schema.sql, database-setup.sql).
INSERT INTO workshops (id, slug, name, owner_name, owner_email, phone, city, opening_hours,
                       services, specializations, subscription_status, subscription_plan)
VALUES ('00000000-0000-4000-8000-00000000de00', 'demo-werkstatt', 'Demo Autowerkstatt',
        'Max Mustermann', 'demo@werkstatt.de', '+49 30 12345678', 'Berlin',
        E'Mo-Fr: 8:00-18:00\nSa: 9:00-14:00', ARRAY['Reparatur', 'Wartung', 'TÜV', 'Inspektion'],
        ARRAY['BMW', 'Mercedes', 'Audi', 'VW'], 'active', 'professional');

INSERT INTO customers (id, workshop_id, slug, name, email, phone, address, city, postal_code,
                       services, opening_hours, rating, review_count)
VALUES ('00000000-0000-4000-8000-00000000de01', '00000000-0000-4000-8000-00000000de00',
        'demo-werkstatt', 'Demo Werkstatt', 'demo@carbot.de', '+49 30 12345678',
        'Musterstraße 123', 'Berlin', '12345',
        ARRAY['TÜV & AU', 'Ölwechsel', 'Inspektion', 'Reparaturen', 'Reifenwechsel'],
        E'Mo-Fr: 8:00-18:00\nSa: 9:00-14:00\nSo: geschlossen', 4.8, 127);
