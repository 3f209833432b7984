"""E-mail: SMTP out (`client`) and, for development and tests, a local SMTP sink (`sandbox`)."""
