#!/usr/bin/env python3
"""Generates oauthlib_cases.json: random OAuth 1.0a requests signed by oauthlib, an independent
implementation, for OAuthSigningTests' differential test. Run offline, then commit the output:

    /tmp/anchors-venv/bin/python Tests/OAuthSigningTests/Resources/generate_oauthlib_cases.py

Each case: method, url (query percent-encoded, '+' and '%20' both used for spaces), form body
parameters (decoded) and the body oauthlib signed, credentials, nonce, timestamp, and the
signature oauthlib produced (HMAC-SHA1, oauth_version 1.0).
"""
import json
import os
import random
import urllib.parse

import oauthlib
from oauthlib.oauth1 import Client

rng = random.Random(5849)
ALPHABET = (
    "abcXYZ019-._~ !\"#$%&'()*+,/:;<=>?@[\\]^`{|}"  # every reserved and unsafe ASCII character
    + "éüñßøΩЖ中文日本語🙂🚀"                              # 2-, 3- and 4-byte UTF-8
)


def text(lo=0, hi=8):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(lo, hi)))


def form_encode(pairs, space):
    out = []
    for name, value in pairs:
        n = urllib.parse.quote(name, safe="-._~")
        v = urllib.parse.quote(value, safe="-._~")
        if space == "+":
            n, v = n.replace("%20", "+"), v.replace("%20", "+")
        out.append(n + "=" + v)
    return "&".join(out)


def params():
    pairs = []
    for _ in range(rng.randint(0, 5)):
        name = text(1, 6)
        pairs.append((name, text()))
        if rng.random() < 0.3:  # a repeated name
            pairs.append((name, text()))
    return pairs


cases = []
for i in range(400):
    scheme = rng.choice(["https", "http", "HTTPS", "Http"])
    host = rng.choice(["api.twitter.com", "API.Twitter.COM", "example.com", "127.0.0.1", "localhost"])
    port = rng.choice(["", "", ":443", ":80", ":8080", ":8443"])
    path = rng.choice(["/1.1/search/tweets.json", "/2/tweets/search/recent", "/", "/a/b%20c/d.json", "/R%C3%A9sum%C3%A9"])
    query = params()
    space = rng.choice(["+", "%20"])
    url = scheme + "://" + host + port + path + ("?" + form_encode(query, space) if query else "")
    method = rng.choice(["GET", "POST"])
    form = params() if method == "POST" else []
    body = form_encode(form, rng.choice(["+", "%20"])) if form else None
    consumer_key = text(1, 20)
    consumer_secret = text(0, 40)
    with_token = rng.random() < 0.8
    token = text(1, 40) if with_token else None
    token_secret = text(0, 40) if with_token else None
    nonce = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))
    timestamp = str(rng.randint(1_000_000_000, 2_000_000_000))
    client = Client(consumer_key, client_secret=consumer_secret, resource_owner_key=token,
                    resource_owner_secret=token_secret, nonce=nonce, timestamp=timestamp)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    try:
        _, signed, _ = client.sign(url, method, body=body, headers=headers)
    except ValueError as error:  # oauthlib refuses some inputs; those are not cases
        print("skipped:", error)
        continue
    header = signed["Authorization"]
    signature = urllib.parse.unquote(header.split('oauth_signature="')[1].split('"')[0])
    cases.append({
        "method": method, "url": url, "form": [[n, v] for n, v in form], "body": body,
        "consumerKey": consumer_key, "consumerSecret": consumer_secret,
        "token": token, "tokenSecret": token_secret,
        "nonce": nonce, "timestamp": timestamp, "signature": signature,
    })

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oauthlib_cases.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump({"generator": "oauthlib " + oauthlib.__version__, "cases": cases}, f, ensure_ascii=False, indent=0)
print(len(cases), "cases ->", out)
