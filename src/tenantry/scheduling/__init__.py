"""Scheduling: resources, opening hours, availability and reservations without double bookings.

An area package of the services layer: it may use models, db, errors, clock, privacy, audit,
events and the principal of `tenantry.services`; never the API, the CLI or the composition
root. Modules by responsibility: `hours` (week and exceptions), `resources` (resources and what
services need), `capacity` (daily catering capacity), `availability` (free slots),
`reservations` (holding resources) and `booking` (scheduling and rescheduling a booking).
"""
