-- matbakh (matbakh-app/matbakh-visibility-boost) legacy schema, reproduced for tests.
-- Written for plain PostgreSQL 15/16, no extensions. Supabase-only pieces (auth.uid(), RLS
-- policies, storage buckets, PostGIS) are left out. Column names and types follow
-- supabase/migrations/*.sql and src/integrations/supabase/types.ts; see README.md for which
-- table comes from where and which types had to be chosen (the generated types only say
-- "string" or "number").

CREATE SCHEMA IF NOT EXISTS auth;

-- Supabase Auth: the only place users and their login e-mails live.
CREATE TABLE auth.users (
    instance_id uuid,
    id uuid PRIMARY KEY,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    recovery_token varchar(255),
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text UNIQUE,
    phone_confirmed_at timestamptz,
    banned_until timestamptz,
    deleted_at timestamptz,
    is_sso_user boolean NOT NULL DEFAULT false,
    is_anonymous boolean NOT NULL DEFAULT false
);

-- ---------------------------------------------------------------------------------------------
-- Tables made in the Supabase dashboard: they exist only in the generated types.
-- ---------------------------------------------------------------------------------------------

-- One row per auth user, filled by the handle_new_user trigger (no foreign key to auth.users).
CREATE TABLE public.profiles (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    language text NOT NULL DEFAULT 'de',
    role text NOT NULL DEFAULT 'user',
    subscription_status text DEFAULT 'free',
    granted_features jsonb DEFAULT '[]'::jsonb,
    feature_access_until timestamptz,
    allergies text[],
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The restaurant, partner-scoped (children reference business_partners.id).
-- user_id is unique (the app upserts ON CONFLICT user_id) but has no foreign key.
CREATE TABLE public.business_partners (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid UNIQUE,
    company_name text NOT NULL,
    contact_email text,
    contact_phone text,
    address text,
    website text,
    description text,
    tax_id text,
    status text DEFAULT 'pending',
    notes text,
    billing_address jsonb,
    business_model text[],
    revenue_streams text[],
    target_audience text[],
    services_selected text[],
    category_ids text[],
    categories jsonb,
    special_features jsonb,
    opening_hours text[],
    seating_capacity integer,
    location point,
    google_account_id text,
    google_connected boolean DEFAULT false,
    document_uploaded boolean DEFAULT false,
    onboarding_completed boolean DEFAULT false,
    profile_verified boolean DEFAULT false,
    go_live boolean DEFAULT false,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- The same restaurant again, user-scoped, with card and bank columns in plaintext.
CREATE TABLE public.business_profiles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL UNIQUE,
    company_name text NOT NULL,
    owner_name text,
    legal_entity text,
    registration_type text,
    commercial_register text,
    tax_number text,
    vat_id text,
    business_license text,
    street text,
    house_number text,
    address text,
    address_line2 text,
    postal_code text,
    city text,
    country text DEFAULT 'DE',
    phone text,
    whatsapp_number text,
    email text,
    website text,
    description text,
    categories text[],
    services text[],
    target_audience text[],
    payment_methods text[],
    data_sources text[],
    business_hours jsonb,
    google_places_id text,
    google_connected boolean NOT NULL DEFAULT false,
    google_rating numeric,
    google_reviews_count integer,
    google_photos jsonb,
    gmb_attributes jsonb,
    gmb_posts jsonb,
    gmb_social_links jsonb,
    gmb_verification_status text,
    facebook_page_id text,
    facebook_about text,
    facebook_followers integer,
    facebook_page_category text,
    facebook_posts_count integer,
    instagram_business_id text,
    instagram_handle text,
    instagram_followers integer,
    messenger_integration boolean DEFAULT false,
    card_number text,
    card_expiry text,
    card_cvc text,
    bank_account text,
    paypal_email text,
    stripe_account text,
    subscription text,
    onboarding_completed boolean DEFAULT false,
    profile_verified boolean DEFAULT false,
    vc_completed boolean DEFAULT false,
    vc_last_run text,
    vc_score integer,
    vc_results jsonb,
    -- added by migrations, missing from the generated types
    go_live boolean DEFAULT false,
    gmb_metrics jsonb DEFAULT '{}',
    ga4_metrics jsonb DEFAULT '{}',
    ads_metrics jsonb DEFAULT '{}',
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- What a partner bought from matbakh. price is numeric euros; booking_date is text.
CREATE TABLE public.partner_bookings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid REFERENCES public.business_partners (id) ON DELETE CASCADE,
    service_slug text NOT NULL,
    service_name text NOT NULL,
    service_type text NOT NULL,
    price numeric NOT NULL,
    status text DEFAULT 'pending',
    payment_status text DEFAULT 'pending',
    payment_intent_id text,
    stripe_customer_id text,
    stripe_subscription_id text,
    invoice_url text,
    booking_date text,
    activated_at timestamptz,
    expires_at timestamptz,
    go_live_required boolean DEFAULT true,
    go_live_at timestamp,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- Visibility-check leads: prospects who ran the free check (no foreign key on user_id).
CREATE TABLE public.visibility_check_leads (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    business_name text NOT NULL,
    email text,
    phone_number text,
    website text,
    location text,
    location_text text,
    postal_code text,
    location_data jsonb,
    main_category text,
    sub_category text,
    matbakh_category text,
    facebook_handle text,
    instagram_handle text,
    tiktok_handle text,
    linkedin_handle text,
    social_links jsonb,
    competitor_urls text[],
    business_model text[],
    revenue_streams text[],
    target_audience text[],
    seating_capacity integer,
    opening_hours jsonb,
    special_features jsonb,
    benchmarks jsonb,
    check_type text NOT NULL DEFAULT 'basic',
    result_status text NOT NULL DEFAULT 'pending',
    status text DEFAULT 'pending',
    analysis_status text DEFAULT 'pending',
    analysis_data jsonb,
    analysis_error_message text,
    analysis_started_at timestamptz,
    analysis_completed_at timestamptz,
    analyzed_at timestamptz,
    found_business boolean,
    overall_score integer,
    google_score integer,
    facebook_score integer,
    instagram_score integer,
    report_url text,
    full_report_url text,
    report_generated_at timestamptz,
    report_sent_at timestamptz,
    language text DEFAULT 'de',
    locale text DEFAULT 'de',
    gdpr_consent boolean DEFAULT false,
    marketing_consent boolean DEFAULT false,
    marketing_consent_at timestamptz,
    email_confirmed boolean DEFAULT false,
    double_optin_confirmed boolean DEFAULT false,
    double_optin_confirmed_at timestamptz,
    double_optin_sent_at timestamptz,
    verification_token text,
    confirm_token_hash text,
    confirm_expires_at timestamptz,
    ip_address text,
    user_agent text,
    user_id uuid,
    migrated_to_profile boolean DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Contact form requests (free-text status).
CREATE TABLE public.consultation_requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_name text,
    contact_person text,
    email text NOT NULL,
    phone text,
    message text,
    notes text,
    service_interest text[],
    preferred_date text,
    preferred_time text,
    status text DEFAULT 'new',
    assigned_to uuid,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

CREATE TABLE public.oauth_event_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid,
    partner_id uuid REFERENCES public.business_partners (id) ON DELETE CASCADE,
    provider text NOT NULL,
    event_type text NOT NULL,
    action_performed text,
    success boolean,
    error_message text,
    context jsonb,
    ip_address text,
    user_agent text,
    created_at timestamptz DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- Tables created by supabase/migrations (latest shape).
-- ---------------------------------------------------------------------------------------------

-- Catalogue: packages without prices (timestamp without time zone) ...
CREATE TABLE public.service_packages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text UNIQUE NOT NULL,
    default_name text NOT NULL,
    is_recurring boolean DEFAULT false,
    interval_months integer,
    is_active boolean DEFAULT true,
    created_at timestamp DEFAULT now()
);

-- ... their prices in cents ...
CREATE TABLE public.service_prices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    package_id uuid REFERENCES public.service_packages (id) ON DELETE CASCADE,
    currency text DEFAULT 'EUR',
    normal_price_cents integer NOT NULL,
    promo_price_cents integer,
    promo_active boolean DEFAULT false,
    valid_from timestamptz DEFAULT now(),
    valid_to timestamptz,
    CONSTRAINT service_prices_package_id_key UNIQUE (package_id)
);

-- ... and add-ons priced in whole euros (numeric).
CREATE TABLE public.addon_services (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    slug text NOT NULL UNIQUE,
    description text,
    price numeric NOT NULL,
    original_price numeric,
    features text[] DEFAULT '{}',
    period text NOT NULL,
    category text NOT NULL,
    compatible_packages text[] DEFAULT '{}',
    requires_base_package boolean DEFAULT true,
    is_active boolean DEFAULT true,
    sort_order integer DEFAULT 0,
    name_translations jsonb,
    description_translations jsonb,
    features_translations jsonb,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- Google tokens in plaintext, keyed by auth user (no partner id).
CREATE TABLE public.google_oauth_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
    google_user_id text NOT NULL,
    email text,
    access_token text NOT NULL,
    refresh_token text,
    expires_at timestamptz,
    scopes text[],
    consent_given boolean DEFAULT true,
    consent_timestamp timestamptz DEFAULT now(),
    service_type text DEFAULT 'general',
    gmb_account_id text,
    ga4_property_id text,
    ads_customer_id text,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.facebook_oauth_tokens (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    facebook_user_id text NOT NULL,
    access_token text NOT NULL,
    email text,
    scopes text[] DEFAULT ARRAY['public_profile', 'email'],
    consent_given boolean NOT NULL DEFAULT true,
    consent_timestamp timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id)
);

CREATE TABLE public.partner_kpis (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    partner_id uuid NOT NULL REFERENCES public.business_partners (id) ON DELETE CASCADE,
    annual_revenue numeric,
    seating_capacity integer,
    food_cost_ratio numeric,
    labor_cost_ratio numeric,
    employee_count integer,
    opening_hours jsonb,
    additional_kpis jsonb DEFAULT '{}',
    custom_features jsonb,
    social_handles jsonb,
    suppliers text[],
    ugc_consent boolean DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (partner_id)
);

-- Public business contact data of a partner (customer_id = business_partners.id).
CREATE TABLE public.business_contact_data (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid NOT NULL UNIQUE REFERENCES public.business_partners (id) ON DELETE CASCADE,
    company_name text NOT NULL,
    address_line1 text NOT NULL,
    house_number text NOT NULL,
    address_line2 text,
    postal_code text NOT NULL,
    city text NOT NULL,
    region text,
    country text NOT NULL,
    contact_email text NOT NULL,
    contact_phone text NOT NULL,
    contact_website text,
    socials jsonb DEFAULT '{}' CHECK (jsonb_typeof(socials) = 'object'),
    competitors jsonb DEFAULT '[]' CHECK (jsonb_typeof(competitors) = 'array'),
    data_source text NOT NULL DEFAULT 'user_input',
    verified boolean NOT NULL DEFAULT false,
    last_enriched_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The owner's private contact person (personal data).
CREATE TABLE public.partner_private_contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid NOT NULL REFERENCES public.business_partners (id) ON DELETE CASCADE,
    first_name text NOT NULL,
    last_name text NOT NULL,
    contact_email text NOT NULL,
    contact_phone text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.lead_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text,
    business_name text,
    event_type text NOT NULL,
    event_time timestamptz NOT NULL DEFAULT now(),
    event_payload jsonb,
    user_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    partner_id uuid REFERENCES public.business_partners (id) ON DELETE SET NULL,
    facebook_event_id text,
    response_status integer,
    success boolean DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.visibility_check_actions (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    lead_id uuid NOT NULL REFERENCES public.visibility_check_leads (id) ON DELETE CASCADE,
    todo_type text NOT NULL,
    todo_text text NOT NULL,
    todo_why text NOT NULL,
    is_critical boolean NOT NULL DEFAULT false,
    is_done boolean NOT NULL DEFAULT false,
    platform text NOT NULL DEFAULT 'google'
        CHECK (platform IN ('google', 'facebook', 'instagram', 'tiktok', 'general')),
    detected_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- Rows the migrations themselves insert.
-- ---------------------------------------------------------------------------------------------

INSERT INTO public.service_packages (code, default_name, is_recurring, interval_months) VALUES
    ('google-business-setup', 'Google Business Setup', false, NULL),
    ('profilpflege-basis', 'Profilpflege Basis', true, 1),
    ('social-media-management', 'Social Media Management', true, 1);

INSERT INTO public.service_prices (package_id, normal_price_cents, promo_price_cents, promo_active)
SELECT id, CASE code WHEN 'google-business-setup' THEN 29900 ELSE 14900 END, 9900, true
FROM public.service_packages;

INSERT INTO public.addon_services (name, slug, description, price, original_price, period,
                                   category, compatible_packages, sort_order) VALUES
    ('Google Chatbot Setup', 'google-chatbot-setup', 'Automatisierte Antworten', 299, 499,
     'one-time', 'automation', ARRAY['google-business-setup'], 2),
    ('Instagram Account Setup', 'instagram-setup', 'Einrichtung Instagram', 29, 49,
     'one-time', 'setup', ARRAY['social-media-management'], 3);

-- The end-to-end test lead of 20250727142525 (a fixed id, a test e-mail).
INSERT INTO public.visibility_check_leads (id, business_name, main_category, location, email,
                                           status, double_optin_confirmed, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000abc', 'Lovable Test Restaurant', 'Essen & Trinken',
        'Berlin, Deutschland', 'lovable-test@example.com', 'pending', true, now(), now());
