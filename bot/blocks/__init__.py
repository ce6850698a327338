"""Block Kit builders: pure functions of read models (jobs.queries) returning messages and views.
They get no session, no client and no ORM object; ids come from bot.ids."""
