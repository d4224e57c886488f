"""What the customers app reports to the apps above it, inside the transaction that wrote the facts.

The customers app records who joined and who left (an import, an event, the admin, the API — every write goes
through `services._Batch.flush`), and does not know what follows: that a new customer starts a journey, that
a leaver's open work is cancelled, is the engine's business (`journeys.flows`, connected in
`journeys.apps`). Sent inside the flush's transaction, so a receiver's writes commit or roll back with the
facts: a customer is never on file without the journey the plan gives them.
"""

from django.dispatch import Signal

# customer_ids: list[int] — customers created by this write; at: datetime — when they were written.
customers_joined = Signal()

# exits: list[tuple[Customer, datetime]] — customers cancelled (离网) by this write, and when they left.
customers_left = Signal()
