-- The demo CRM that `make run` and the tests create: what the demo workflows act on.
CREATE SCHEMA IF NOT EXISTS crm;

CREATE TABLE IF NOT EXISTS crm.users (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL UNIQUE,
    team        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.organisations (
    id                serial PRIMARY KEY,
    name              text NOT NULL,
    potential_amount  numeric(14, 2),
    owner_id          integer REFERENCES crm.users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.contacts (
    id               serial PRIMARY KEY,
    name             text NOT NULL,
    email            text,
    phone            text,
    organisation_id  integer REFERENCES crm.organisations (id),
    owner_id         integer REFERENCES crm.users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.deals (
    id               serial PRIMARY KEY,
    name             text NOT NULL,
    amount           numeric(14, 2) NOT NULL DEFAULT 0,
    stage            text NOT NULL DEFAULT 'QUALIFICATION',
    organisation_id  integer REFERENCES crm.organisations (id),
    contact_id       integer REFERENCES crm.contacts (id),
    owner_id         integer REFERENCES crm.users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.tasks (
    id           serial PRIMARY KEY,
    title        text NOT NULL,
    description  text,
    due_date     timestamptz,
    status       text NOT NULL DEFAULT 'OPEN',
    assignee_id  integer REFERENCES crm.users (id),
    deal_id      integer REFERENCES crm.deals (id),
    contact_id   integer REFERENCES crm.contacts (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.activities (
    id           serial PRIMARY KEY,
    kind         text NOT NULL DEFAULT 'note',
    body         text NOT NULL,
    entity       text NOT NULL,
    entity_id    integer NOT NULL,
    user_id      integer REFERENCES crm.users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.tags (
    id         serial PRIMARY KEY,
    name       text NOT NULL,
    entity     text NOT NULL,
    entity_id  integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, entity, entity_id)
);

-- A temporary collection (staged imports) that the nightly cleanup template purges.
CREATE TABLE IF NOT EXISTS crm.temp_imports (
    id          serial PRIMARY KEY,
    source      text NOT NULL,
    payload     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A no-code app's collections: orders and invoices, each with its lines (the record rules template).
CREATE TABLE IF NOT EXISTS crm.orders (
    id          serial PRIMARY KEY,
    reference   text NOT NULL,
    customer    text,
    due_date    timestamptz,
    status      text NOT NULL DEFAULT 'OPEN',
    total       numeric(14, 2) NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.order_lines (
    id          serial PRIMARY KEY,
    order_id    integer NOT NULL REFERENCES crm.orders (id) ON DELETE CASCADE,
    product     text NOT NULL,
    quantity    integer NOT NULL DEFAULT 1,
    status      text NOT NULL DEFAULT 'OPEN',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.invoices (
    id          serial PRIMARY KEY,
    reference   text NOT NULL,
    customer    text,
    due_date    timestamptz,
    status      text NOT NULL DEFAULT 'OPEN',
    total       numeric(14, 2) NOT NULL DEFAULT 0,
    order_id    integer REFERENCES crm.orders (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS crm.invoice_lines (
    id          serial PRIMARY KEY,
    invoice_id  integer NOT NULL REFERENCES crm.invoices (id) ON DELETE CASCADE,
    product     text NOT NULL,
    quantity    integer NOT NULL DEFAULT 1,
    status      text NOT NULL DEFAULT 'OPEN',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO crm.users (name, email, team) VALUES
    ('Alice Martin', 'alice@example.com', 'sales'),
    ('Bob Durand', 'bob@example.com', 'sales'),
    ('Carla Manager', 'carla@example.com', 'management')
ON CONFLICT (email) DO NOTHING;
