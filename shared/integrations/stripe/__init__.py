"""Stripe: the client Zegel uses (the official `stripe` SDK pointed at `ZEGEL_STRIPE_API_BASE`),
webhook signatures, and a sandbox that speaks the subset Zegel uses."""
