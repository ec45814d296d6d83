"""Conversations with customers and leads: threads and messages across channels, lead
interactions, escalations to a person, the customer timeline, and the upkeep of the monthly
chat partitions.

Chat (web chat, SMS, social, voice transcripts) is kept 90 days in `engage.chat_messages`,
partitioned by month and dropped by whole partition; e-mail is correspondence in
`engage.messages`, kept for its legal period by the retention runner. Use cases take a unit of
work and the acting principal, check role and location scope, and never commit; they import
neither FastAPI nor Typer.
"""
