"""Payment links (SPEC 13.1): a shareable offer of one service that anyone signed in can buy, with
limits the database enforces, and the funnel counted."""
