#!/usr/bin/env python3
"""Generates croniter_cases.json: next fire times from croniter, an independent implementation.

    python3 -m venv /tmp/cron-venv && /tmp/cron-venv/bin/pip install croniter==7.0.0 tzdata
    /tmp/cron-venv/bin/python generate_croniter_cases.py > croniter_cases.json

Each case: a random Vixie expression, an IANA zone, a start instant and croniter's next five fire times
(ISO 8601 with offset, and seconds since 1970). The output is deterministic (fixed seed).

croniter is not an oracle everywhere, and such cases are left out or marked:
- DESIGN.md's daylight-saving rules differ from croniter's (croniter fires a fixed-time job twice in a
  repeated hour, for example). A case is marked "dst": true when a UTC-offset change falls between the
  start and the last fire time *and* the expression fires on that local date (checked on naive civil
  time); the Swift tests skip marked cases and check DST with hand-computed cases instead.
- croniter combines the day fields by OR whenever both differ from a plain `*`, while Vixie cron (and
  DESIGN.md) ANDs them when either field starts with `*` (`*/2`). Expressions with such a day field
  next to a restricted other day field are not generated.
"""
import datetime as dt
import json
import random
import sys
import zoneinfo

from croniter import croniter

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def value(rng, index, low, high):
    v = rng.randint(low, high)
    if index == 3 and rng.random() < 0.3:
        return MONTHS[v - 1].lower() if rng.random() < 0.3 else MONTHS[v - 1]
    if index == 4 and v < 7 and rng.random() < 0.3:
        return DAYS[v].capitalize() if rng.random() < 0.3 else DAYS[v]
    return str(v)


def element(rng, index):
    low, high = FIELDS[index]
    if index == 4:
        high = 6 if rng.random() < 0.8 else 7
    kind = rng.random()
    if kind < 0.35:
        return value(rng, index, low, high)
    if kind < 0.55:
        a = rng.randint(low, high - 1)
        b = rng.randint(a + 1, high)
        return "%s-%s" % (a, b)
    if kind < 0.75:
        return "*/%d" % rng.randint(1, max(1, (high - low) // 2))
    if kind < 0.9:
        a = rng.randint(low, high - 1)
        b = rng.randint(a + 1, high)
        return "%d-%d/%d" % (a, b, rng.randint(1, b - a))
    return "%d/%d" % (rng.randint(low, min(high, 6 if index == 4 else high)), rng.randint(1, 10))


def field(rng, index):
    r = rng.random()
    star_bias = [0.15, 0.35, 0.6, 0.7, 0.7][index]
    if r < star_bias:
        return "*"
    count = 1 if rng.random() < 0.7 else rng.randint(2, 3)
    return ",".join(element(rng, index) for _ in range(count))


def expression(rng):
    while True:
        fields = [field(rng, i) for i in range(5)]
        dom, dow = fields[2], fields[4]
        restricted_dom, restricted_dow = not dom.startswith("*"), not dow.startswith("*")
        if (dom.startswith("*") and dom != "*" and restricted_dow) or (
            dow.startswith("*") and dow != "*" and restricted_dom
        ):
            continue  # croniter ORs these, Vixie ANDs them
        text = " ".join(fields)
        try:
            it = croniter(text, dt.datetime(2024, 1, 1))
            it.get_next(dt.datetime)
        except Exception:
            continue  # croniter rejects it (for example a date that never exists)
        full_dom, full_dow = it.expanded[2] == ["*"], it.expanded[4] == ["*"]
        if (full_dom and restricted_dom and restricted_dow) or (full_dow and restricted_dow and restricted_dom):
            continue  # croniter turns a day field listing every value into `*` and drops the OR rule
        return text


def transitions(zone, start, end):
    """UTC instants in [start, end] where the zone's offset changes (found hour by hour, then bisected)."""
    found = []
    t = start
    step = dt.timedelta(hours=1)
    while t < end:
        a, b = t.astimezone(zone).utcoffset(), (t + step).astimezone(zone).utcoffset()
        if a != b:
            lo, hi = t, t + step
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == a:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        t += step
    return found


def fires_on_local_date(expr, date):
    it = croniter(expr, dt.datetime(date.year, date.month, date.day) - dt.timedelta(minutes=1))
    return it.get_next(dt.datetime).date() == date


def main():
    rng = random.Random(20261124)
    cases = []
    expressions = [expression(rng) for _ in range(200)]
    expressions += ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "0 0 29 2 *", "0 0 13 * 5",
                    "59 23 31 * *", "0 12 * JAN,JUL MON", "*/15 9-17 * * MON-FRI", "30 2 * * 0"]
    for expr in expressions:
        for zone_name in rng.sample(ZONES, 3):
            zone = zoneinfo.ZoneInfo(zone_name)
            seconds = rng.randint(int(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).timestamp()),
                                  int(dt.datetime(2028, 12, 31, tzinfo=dt.timezone.utc).timestamp()))
            if rng.random() < 0.5:
                seconds -= seconds % 60  # also start exactly on minute boundaries
            start = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).astimezone(zone)
            it = croniter(expr, start)
            fires = [it.get_next(dt.datetime) for _ in range(5)]
            sensitive = any(
                fires_on_local_date(expr, t.astimezone(zone).date())
                or fires_on_local_date(expr, (t - dt.timedelta(days=1)).astimezone(zone).date())
                for t in transitions(zone, start - dt.timedelta(days=1), fires[-1] + dt.timedelta(days=1)))
            cases.append({
                "expression": expr,
                "zone": zone_name,
                "start": start.isoformat(),
                "startEpoch": seconds,
                "dst": sensitive,
                "fires": [f.isoformat() for f in fires],
                "fireEpochs": [int(f.timestamp()) for f in fires],
            })
    json.dump(cases, sys.stdout, indent=1)
    sys.stdout.write("\n")
    print("# %d cases, %d marked dst" % (len(cases), sum(c["dst"] for c in cases)), file=sys.stderr)


if __name__ == "__main__":
    main()
