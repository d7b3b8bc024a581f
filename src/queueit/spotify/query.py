"""Validation of search and lookup parameters. Everything raises :class:`InvalidQuery`."""

from __future__ import annotations

import unicodedata

from queueit.spotify.errors import InvalidQuery
from queueit.spotify.track import TRACK_ID_RE, has_forbidden_chars

MAX_QUERY_CHARS = 200
MIN_LIMIT = 1
MAX_LIMIT = 50
DEFAULT_LIMIT = 20

# ISO 3166-1 alpha-2 (all 249 assigned codes) plus XK (Kosovo), which Spotify lists as a market.
ISO_3166_ALPHA2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW XK
    """.split()
)


def normalize_query(q: object) -> str:
    """The query as sent upstream: NFC, trimmed, inner whitespace runs collapsed to one space.

    Rejects non-strings, NUL and other control characters (anywhere, before trimming), and
    queries that are empty or longer than 200 characters once trimmed.
    """
    if not isinstance(q, str):
        raise InvalidQuery("q", "must be a string")
    if has_forbidden_chars(q):
        raise InvalidQuery("q", "must not contain control characters")
    q = " ".join(unicodedata.normalize("NFC", q).split())
    if not q:
        raise InvalidQuery("q", "must not be empty")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidQuery("q", f"must be at most {MAX_QUERY_CHARS} characters")
    return q


def validate_limit(limit: object) -> int:
    """``limit`` as an int from 1 to 50 (booleans and floats are refused)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be an integer from {MIN_LIMIT} to {MAX_LIMIT}")
    return limit


def validate_market(market: object) -> str | None:
    """``market`` as an upper-case ISO 3166-1 alpha-2 code, or None. Lower case is accepted."""
    if market is None:
        return None
    if not isinstance(market, str) or market.upper() not in ISO_3166_ALPHA2:
        raise InvalidQuery("market", "must be an ISO 3166-1 alpha-2 country code")
    return market.upper()


def validate_track_id(track_id: object) -> str:
    """A track id: 1..64 characters of ``[A-Za-z0-9]`` (Spotify's own are 22, base62)."""
    if not isinstance(track_id, str) or not TRACK_ID_RE.fullmatch(track_id):
        raise InvalidQuery("id", "must be 1 to 64 characters of A-Z, a-z, 0-9")
    return track_id
