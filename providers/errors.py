"""What every message sender's failure means for the outbox (one vocabulary for all gateways)."""


class PermanentFailure(Exception):
    """This message will never go through this gateway (refused address, bad number, stop list)."""


class MaybeSent(Exception):
    """The gateway may have taken the message (no answer after the request left): sending it
    again could deliver it twice."""
