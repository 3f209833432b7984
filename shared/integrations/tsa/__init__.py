"""Time-stamping authority (RFC 3161) for PAdES-B-T signatures.

The client is pyHanko's `HTTPTimeStamper` against `ZEGEL_TSA_URL` (see
`shared.pdf.signing.make_timestamper`); `sandbox` serves a local TSA at /tsa for development
and tests.
"""
