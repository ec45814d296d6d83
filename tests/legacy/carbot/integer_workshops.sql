-- The state CarBot's COMPLETE_SCHEMA_FIX.sql leaves behind: `workshops` dropped with CASCADE and
-- recreated with a SERIAL id, while every other table keeps its `workshop_id uuid` (its foreign
-- key is gone, its values now point nowhere). Our own DDL of that shape, plus the script's demo row.
DROP TABLE IF EXISTS workshops CASCADE;

CREATE TABLE workshops (
    id serial PRIMARY KEY,
    name varchar(255) NOT NULL,
    owner_name varchar(255),
    owner_email varchar(255) UNIQUE NOT NULL,
    email varchar(255),
    phone varchar(50),
    address text,
    city varchar(100),
    postal_code varchar(20),
    website varchar(255),
    business_hours jsonb DEFAULT '{}',
    services text[] DEFAULT '{}',
    specializations text[] DEFAULT '{}',
    response_style varchar(50) DEFAULT 'professional',
    language varchar(10) DEFAULT 'de',
    lead_notifications boolean DEFAULT true,
    appointment_reminders boolean DEFAULT true,
    auto_response boolean DEFAULT true,
    widget_enabled boolean DEFAULT true,
    widget_color varchar(20) DEFAULT '#3B82F6',
    whatsapp_enabled boolean DEFAULT false,
    whatsapp_number varchar(50),
    gmt_integration boolean DEFAULT false,
    facebook_integration boolean DEFAULT false,
    created_at timestamptz DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO workshops (name, owner_name, owner_email, email, phone, address, city, postal_code,
                       website, services, specializations)
VALUES ('Muster Autowerkstatt', 'Max Mustermann', 'test@carbot.de', 'max@muster-werkstatt.de',
        '+49 30 12345678', 'Musterstraße 123', 'Berlin', '10115', 'https://muster-werkstatt.de',
        '{"Inspektion", "Ölwechsel"}', '{"BMW", "Audi"}');
