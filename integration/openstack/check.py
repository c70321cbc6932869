#!/usr/bin/env python3
"""Checks the OpenStack stand-in with the real reference client (python-openstackclient), and
its strictness with raw HTTP requests where the client would refuse or hide a mistake first.

Run through check.sh, which installs the client and builds the test-host image:
    check.py --openstack PATH --docker-image IMAGE --network-name NAME
Prints one line per check and "N passed, N failed" last; exits non-zero on any failure.
"""

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = "NeCTAR Ubuntu 22.04 LTS (Jammy) amd64"
ZONE, OTHER_ZONE, FULL_ZONE = "melbourne-qh2", "melbourne-qh2-uom", "tasmania"


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}"[:2000], flush=True)
        return ok


class Env:
    """The stand-in process, its files, and helpers to talk to it."""

    def __init__(self, args, work):
        self.args, self.work = args, work
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.key = os.path.join(work, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key],
                       check=True)
        self.secret = secrets.token_urlsafe(24)
        self.app_cred_id = secrets.token_hex(16)
        self.password = secrets.token_hex(8)
        self.write_config()
        self.write_clouds()
        self.proc = None

    def write_config(self):
        with open(self.key + ".pub") as f:
            public = f.read().strip()
        config = {
            "project": {"name": "pt-standin", "domain": "Default"},
            "users": [{"name": "tester@example.edu.au", "password": self.password}],
            "application_credentials": [{"id": self.app_cred_id, "name": "provision",
                                         "secret": self.secret,
                                         "user": "tester@example.edu.au"}],
            "keypairs": [{"name": "provision-key", "public_key": public}],
            "quotas": {"instances": 3, "cores": 8, "ram": 32768, "volumes": 4,
                       "gigabytes": 10, "snapshots": 4},
            "availability_zones": {ZONE: {}, OTHER_ZONE: {}, FULL_ZONE: {"full": True}},
        }
        self.config_path = os.path.join(self.work, "cloud.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)

    def write_clouds(self):
        """clouds.yaml as Nectar's dashboard hands out an application credential."""
        def cloud(name, secret):
            return (f"  {name}:\n    auth_type: v3applicationcredential\n    auth:\n"
                    f"      auth_url: {self.base}/identity/v3\n"
                    f"      application_credential_id: \"{self.app_cred_id}\"\n"
                    f"      application_credential_secret: \"{secret}\"\n"
                    f"    region_name: Melbourne\n    interface: public\n"
                    f"    identity_api_version: 3\n")
        path = os.path.join(self.work, "clouds.yaml")
        with open(path, "w") as f:
            f.write("clouds:\n" + cloud("standin", self.secret) + cloud("standin-bad", "wrong"))
        self.clouds = path

    def start(self):
        log = open(os.path.join(self.work, "standin.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "standin.py"), "--port", str(self.port),
             "--config", self.config_path, "--network-name", self.args.network_name,
             "--docker-image", self.args.docker_image, "--exit-with-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on http://127.0.0.1:"):
            raise SystemExit(f"the stand-in did not start: {line!r}; see {log.name}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def osc(self, *args, cloud="standin", timeout=300):
        """Runs the openstack CLI; returns (exit code, parsed JSON or text, stderr)."""
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=self.clouds)
        for k in list(env):
            if k.startswith("OS_") and k != "OS_CLIENT_CONFIG_FILE":
                del env[k]
        done = subprocess.run([self.args.openstack, "--os-cloud", cloud, *args],
                              capture_output=True, text=True, env=env, timeout=timeout)
        out = done.stdout
        if "-f" in args and "json" in args and done.returncode == 0 and out.strip():
            out = json.loads(out)
        return done.returncode, out, done.stderr

    def token(self):
        body = {"auth": {"identity": {"methods": ["application_credential"],
                                      "application_credential": {"id": self.app_cred_id,
                                                                 "secret": self.secret}}}}
        status, data, headers = self.http("POST", "/identity/v3/auth/tokens", body, token=None)
        self.project_id = data["token"]["project"]["id"]
        return headers["X-Subject-Token"]

    def http(self, method, path, body=None, token="", headers=None):
        """Raw request; returns (status, parsed body, headers)."""
        if token == "":
            token = self._token
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None
                                     else None)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-Auth-Token", token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw, hdrs = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), e.headers
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode()
        return status, data, hdrs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, timeout=90, interval=1.0):
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    return value


def ipv4(text):
    m = re.search(r"\b(\d+\.\d+\.\d+\.\d+)\b", json.dumps(text))
    return m.group(1) if m else None


def field(env, kind, name, key):
    rc, data, _ = env.osc(*kind.split(), "show", name, "-f", "json")
    return data.get(key) if rc == 0 and isinstance(data, dict) else None


def ssh(env, ip, known_hosts, command):
    return subprocess.run(
        ["ssh", "-i", env.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
         "-o", "ConnectTimeout=5", f"ubuntu@{ip}", command],
        capture_output=True, text=True, timeout=60)


# --------------------------------------------------------------------------------------------
# The client's everyday calls
# --------------------------------------------------------------------------------------------

def check_read_only(env, r):
    rc, tok, err = env.osc("token", "issue", "-f", "json")
    r.check("token issue", rc == 0 and tok.get("id") and tok.get("project_id"), err)
    rc, cat, err = env.osc("catalog", "list", "-f", "json")
    types = {c.get("Type") for c in cat} if rc == 0 else set()
    r.check("catalog list has compute, volumev3, block-storage, image, network",
            {"compute", "volumev3", "block-storage", "image", "network"} <= types,
            f"{types} {err}")
    r.check("catalog endpoints are public in Melbourne",
            rc == 0 and "Melbourne" in json.dumps(cat) and "public" in json.dumps(cat), cat)
    checks = [("flavor list", "Name", "m3.small"), ("image list", "Name", IMAGE),
              ("keypair list", "Name", "provision-key"),
              ("network list", "Name", env.args.network_name),
              ("availability zone list", "Zone Name", OTHER_ZONE)]
    for command, column, wanted in checks:
        rc, rows, err = env.osc(*command.split(), "-f", "json")
        names = [row.get(column) for row in rows] if rc == 0 else []
        r.check(f"{command} shows {wanted}", wanted in names, f"{names} {err}")
    rc, rows, err = env.osc("security", "group", "list", "-f", "json")
    names = {row.get("Name") for row in rows} if rc == 0 else set()
    r.check("security group list", {"default", "ssh", "http", "couchdb"} <= names,
            f"{names} {err}")


def check_server_lifecycle(env, r, work):
    """Creates one server, SSHes into it, stops/starts/reboots it; returns its id."""
    rc, server, err = env.osc("server", "create", "--flavor", "m3.small", "--image", IMAGE,
                              "--key-name", "provision-key", "--network", env.args.network_name,
                              "--availability-zone", ZONE, "--property", "role=web",
                              "--tag", "provision", "--wait", "standin-web-1", "-f", "json")
    if not r.check("server create --wait is ACTIVE",
                   rc == 0 and server.get("status") == "ACTIVE", f"{server} {err}"):
        return None
    sid = server["id"]
    rc, rows, err = env.osc("server", "list", "-f", "json")
    r.check("server list shows it", rc == 0 and any(s["ID"] == sid for s in rows), err)
    rc, shown, err = env.osc("server", "show", sid, "-f", "json")
    ip = ipv4(shown.get("addresses")) if rc == 0 else None
    r.check("server show has an address on the network",
            ip and env.args.network_name in json.dumps(shown.get("addresses")), shown)
    r.check("server show has the zone",
            rc == 0 and shown.get("OS-EXT-AZ:availability_zone") == ZONE
            or shown.get("availability_zone") == ZONE, shown)

    console = wait_for(lambda: host_keys_block(env, sid), timeout=60)
    r.check("console log show has the host key block", console, "no block after 60 s")
    if console and ip:
        known = os.path.join(work, "known_hosts")
        with open(known, "w") as f:
            f.writelines(f"{ip} {' '.join(k.split()[:2])}\n" for k in console)
        done = wait_for(lambda: (lambda d: d if d.returncode == 0 else None)(
            ssh(env, ip, known, "hostname")), timeout=60, interval=2)
        r.check("ssh with the console's host keys (StrictHostKeyChecking=yes)",
                done is not None and done.returncode == 0,
                "ssh failed" if done is None else done.stderr)
    for action, status in (("stop", "SHUTOFF"), ("start", "ACTIVE"), ("reboot", "ACTIVE")):
        rc, _, err = env.osc("server", action, sid)
        if action == "reboot":
            time.sleep(1)
        ok = rc == 0 and wait_for(lambda: field(env, "server", sid, "status") == status
                                  and field(env, "server", sid, "OS-EXT-STS:task_state")
                                  in (None, ""), timeout=60)
        r.check(f"server {action} -> {status}", ok, err)
    if ip and console:
        done = wait_for(lambda: (lambda d: d if d.returncode == 0 else None)(
            ssh(env, ip, os.path.join(work, "known_hosts"), "true")), timeout=60, interval=2)
        r.check("ssh after stop/start/reboot, same address and host keys", done is not None)
    return sid


def host_keys_block(env, sid):
    rc, out, _ = env.osc("console", "log", "show", sid)
    m = re.search(r"-----BEGIN SSH HOST KEY KEYS-----\n(.*?)-----END SSH HOST KEY KEYS-----",
                  out or "", re.S)
    return m.group(1).strip().splitlines() if m else None


def check_volumes(env, r, sid):
    rc, vol, err = env.osc("volume", "create", "--size", "1", "--availability-zone", ZONE,
                           "standin-data", "-f", "json")
    if not r.check("volume create", rc == 0 and vol.get("id"), err):
        return
    vid = vol["id"]
    r.check("volume becomes available",
            wait_for(lambda: field(env, "volume", vid, "status") == "available", 30))
    rc, _, err = env.osc("server", "add", "volume", sid, vid)
    r.check("server add volume",
            rc == 0 and wait_for(lambda: field(env, "volume", vid, "status") == "in-use", 30),
            err)
    rc, rows, err = env.osc("volume", "list", "-f", "json")
    row = next((v for v in rows if v["ID"] == vid), {}) if rc == 0 else {}
    r.check("volume list shows it in-use and attached",
            row.get("Status") == "in-use" and "/dev/vdb" in json.dumps(row), f"{row} {err}")
    known = os.path.join(os.path.dirname(env.key), "known_hosts")
    ip = ipv4(field(env, "server", sid, "addresses"))
    done = ssh(env, ip, known, f"test -e /dev/disk/by-id/virtio-{vid[:20]} && "
                               f"readlink /dev/disk/by-id/virtio-{vid[:20]}")
    r.check("the volume shows as /dev/disk/by-id/virtio-<id[:20]> in the server",
            done.returncode == 0 and "vdb" in done.stdout, done.stderr)

    rc, _, err = env.osc("volume", "delete", vid)
    r.check("volume delete of an in-use volume is refused (400)",
            rc != 0 and "must not be migrating, attached" in err, err)
    # openstackclient 10.5.0 leaves out "force" when the cloud offers 3.66+, but openstacksdk
    # sends the request at 3.65, where Cinder needs it: real Cinder refuses, and so must we.
    rc, _, err = env.osc("volume", "snapshot", "create", "--volume", vid, "--force",
                         "standin-snap")
    r.check("client quirk: snapshot --force of an in-use volume at negotiated 3.70 is refused",
            rc != 0 and "status must be available, but current status is: in-use" in err, err)
    rc, snap, err = env.osc("--os-volume-api-version", "3.65", "volume", "snapshot", "create",
                            "--volume", vid, "--force", "standin-snap", "-f", "json")
    ok = rc == 0 and wait_for(
        lambda: field(env, "volume snapshot", snap["id"], "status") == "available", 30)
    r.check("volume snapshot create --force on an in-use volume", ok, err)
    rc, rows, err = env.osc("volume", "snapshot", "list", "-f", "json")
    r.check("volume snapshot list", rc == 0 and any(s["Name"] == "standin-snap" for s in rows),
            err)
    rc, _, err = env.osc("volume", "snapshot", "delete", "standin-snap")
    gone = wait_for(lambda: env.osc("volume", "snapshot", "show", "standin-snap")[0] != 0, 30)
    r.check("volume snapshot delete", rc == 0 and gone, err)
    rc, _, err = env.osc("server", "remove", "volume", sid, vid)
    ok = rc == 0 and wait_for(lambda: field(env, "volume", vid, "status") == "available", 30)
    r.check("server remove volume", ok, err)
    rc, _, err = env.osc("volume", "delete", vid)
    gone = wait_for(lambda: env.osc("volume", "show", vid)[0] != 0, 30)
    r.check("volume delete", rc == 0 and gone, err)


# --------------------------------------------------------------------------------------------
# What real OpenStack refuses
# --------------------------------------------------------------------------------------------

def check_cli_negatives(env, r):
    rc, _, err = env.osc("token", "issue", cloud="standin-bad")
    r.check("bad secret: 401 with Keystone's message",
            rc != 0 and "The request you have made requires authentication" in err
            and "401" in err, err)
    rc, _, err = env.osc("server", "create", "--flavor", "m9.huge", "--image", IMAGE,
                         "--network", env.args.network_name, "nope")
    r.check("unknown flavor is refused", rc != 0 and "m9.huge" in err, err)
    rc, _, err = env.osc("volume", "create", "--size", "20", "--availability-zone", ZONE,
                         "too-big")
    r.check("volume gigabytes quota: 413 with Cinder's message",
            rc != 0 and "exceeds allowed gigabytes quota. Requested 20G, quota is 10G" in err,
            err)


def check_full_zone_and_quota(env, r):
    """Two servers in the zone marked full go to ERROR (no container) and, with the first
    server, fill the instance quota of 3."""
    for n in (1, 2):
        rc, out, err = env.osc("server", "create", "--flavor", "m3.xsmall", "--image", IMAGE,
                               "--network", env.args.network_name, "--availability-zone",
                               FULL_ZONE, f"standin-full-{n}", "-f", "json")
        sid = out.get("id") if rc == 0 else None
        status = wait_for(lambda: field(env, "server", sid, "status") == "ERROR", 30) \
            if sid else None
        fault_text = json.dumps(field(env, "server", sid, "fault")) if sid else err
        r.check(f"server in the full zone goes to ERROR with No valid host ({n})",
                status and "No valid host was found" in fault_text, f"{fault_text} {err}")
    rc, _, err = env.osc("server", "create", "--flavor", "m3.xsmall", "--image", IMAGE,
                         "--network", env.args.network_name, "one-too-many")
    r.check("instance quota: 403 with Nova's message",
            rc != 0 and "Quota exceeded for instances: Requested 1, but already used 3 of 3 "
                        "instances" in err, err)
    rc, _, err = env.osc("console", "log", "show", "standin-full-1")
    r.check("console log of a server in ERROR is refused (409)",
            rc != 0 and "is not ready" in err, err)
    for n in (1, 2):
        env.osc("server", "delete", "--wait", f"standin-full-{n}")


def expect(r, name, result, status, key, text):
    code, body, _ = result
    inner = (body or {}).get(key, {}) if isinstance(body, dict) else {}
    ok = code == status and inner.get("code", status) == status and text in str(
        inner.get("message", ""))
    r.check(name, ok, f"got {code} {body}")


def check_keystone(env, r):
    status, body, _ = env.http("GET", "/identity/v3", token=None)
    r.check("GET /identity/v3 version document",
            status == 200 and body["version"]["id"].startswith("v3"), body)
    user = {"name": "tester@example.edu.au", "domain": {"name": "Default"}}
    scope = {"project": {"name": "pt-standin", "domain": {"name": "Default"}}}

    def auth(method, identity, scope=None):
        body = {"auth": {"identity": {"methods": [method], method: identity}}}
        if scope:
            body["auth"]["scope"] = scope
        return env.http("POST", "/identity/v3/auth/tokens", body, token=None)
    status, body, hdrs = auth("password", {"user": dict(user, password=env.password)}, scope)
    r.check("password auth with a project scope: 201 and X-Subject-Token",
            status == 201 and hdrs.get("X-Subject-Token")
            and body["token"]["project"]["name"] == "pt-standin", body)
    status, body, _ = auth("password", {"user": dict(user, password="wrong")}, scope)
    r.check("wrong password: 401 with Keystone's error body",
            status == 401 and body == {"error": {
                "code": 401, "title": "Unauthorized",
                "message": "The request you have made requires authentication."}}, body)
    status, body, _ = auth("application_credential",
                           {"name": "provision", "secret": env.secret, "user": user})
    r.check("application credential by name and user: 201",
            status == 201 and body["token"]["application_credential"]["name"] == "provision",
            body)


def check_raw_negatives(env, r, sid):
    check_keystone(env, r)
    env._token = env.token()
    nova = "/compute/v2.1"
    cinder = f"/volume/v3/{env.project_id}"
    status, body, _ = env.http("GET", nova + "/servers", token=None)
    r.check("no token: 401 with Keystone's body",
            status == 401 and body.get("error", {}).get("title") == "Unauthorized", body)
    expect(r, "compute microversion 2.97: 406", env.http(
        "GET", nova + "/servers", headers={"OpenStack-API-Version": "compute 2.97"}),
        406, "computeFault", "Minimum is 2.1 and maximum is 2.96")
    status, _, hdrs = env.http("GET", nova + "/servers",
                               headers={"X-OpenStack-Nova-API-Version": "2.60"})
    r.check("legacy Nova version header answered",
            status == 200 and hdrs.get("OpenStack-API-Version") == "compute 2.60", hdrs)
    expect(r, "volume microversion 3.71: 406", env.http(
        "GET", cinder + "/volumes", headers={"OpenStack-API-Version": "volume 3.71"}),
        406, "computeFault", "maximum is 3.70")

    flavor = next(f["id"] for f in env.http("GET", nova + "/flavors")[1]["flavors"]
                  if f["name"] == "m3.small")
    image = env.http("GET", "/image/v2/images?name=" + urllib.request.quote(IMAGE))[1][
        "images"][0]["id"]
    base = {"name": "x", "flavorRef": flavor, "imageRef": image, "networks": "auto"}
    v = {"OpenStack-API-Version": "compute 2.60"}
    expect(r, "server create with an unknown field: 400", env.http(
        "POST", nova + "/servers", {"server": dict(base, colour="red")}, headers=v),
        400, "badRequest", "Additional properties are not allowed ('colour' was unexpected)")
    expect(r, "server create without networks at 2.37+: 400", env.http(
        "POST", nova + "/servers", {"server": {k: base[k] for k in base if k != "networks"}},
        headers=v), 400, "badRequest", "'networks' is a required property")
    expect(r, "server create with tags below 2.52: 400", env.http(
        "POST", nova + "/servers", {"server": dict(base, tags=["a"])},
        headers={"OpenStack-API-Version": "compute 2.51"}),
        400, "badRequest", "('tags' was unexpected)")
    expect(r, "server create with a wrong type: 400", env.http(
        "POST", nova + "/servers", {"server": dict(base, min_count="two")}, headers=v),
        400, "badRequest", "Invalid input for field/attribute min_count")
    expect(r, "server create with an unknown flavorRef: 400", env.http(
        "POST", nova + "/servers", {"server": dict(base, flavorRef="nope")}, headers=v),
        400, "badRequest", "Flavor nope could not be found.")
    expect(r, "show of an unknown server: 404", env.http("GET", nova + "/servers/" + "0" * 32),
           404, "itemNotFound", "could not be found")
    if sid:
        expect(r, "os-start of an ACTIVE server: 409", env.http(
            "POST", f"{nova}/servers/{sid}/action", {"os-start": None}),
            409, "conflictingRequest", "while it is in vm_state active")
        check_server_filters(env, r, nova, sid)
        check_cross_az_and_snapshot_rules(env, r, nova, cinder, sid)


def check_server_filters(env, r, nova, sid):
    def ids(query, version="2.60"):
        status, body, _ = env.http("GET", f"{nova}/servers?{query}",
                                   headers={"OpenStack-API-Version": f"compute {version}"})
        return [s["id"] for s in body["servers"]] if status == 200 else None
    r.check("name filter is a regular expression", sid in (ids("name=^standin-w.b") or []))
    r.check("tags filter (2.26+)", sid in ids("tags=provision") and not ids("tags=other"))
    r.check("tags-any filter", sid in ids("tags-any=other,provision"))
    r.check("tags filter ignored below 2.26", sid in ids("tags=other", "2.25"))
    r.check("metadata filter ignored for a project member", sid in ids("metadata=role%3Dnone"))


def check_cross_az_and_snapshot_rules(env, r, nova, cinder, sid):
    status, body, _ = env.http("POST", cinder + "/volumes",
                               {"volume": {"size": 1, "availability_zone": OTHER_ZONE}})
    other = body["volume"]["id"] if status == 202 else None
    wait_for(lambda: env.http("GET", f"{cinder}/volumes/{other}")[1]["volume"]["status"]
             == "available", 20, 0.3)
    expect(r, "attach across availability zones: 400 (cross_az_attach=False)", env.http(
        "POST", f"{nova}/servers/{sid}/os-volume_attachments",
        {"volumeAttachment": {"volumeId": other}}),
        400, "badRequest", "are not in the same availability_zone")
    env.http("DELETE", f"{cinder}/volumes/{other}")

    status, body, _ = env.http("POST", cinder + "/volumes",
                               {"volume": {"size": 1, "availability_zone": ZONE}})
    vid = body["volume"]["id"]
    wait_for(lambda: env.http("GET", f"{cinder}/volumes/{vid}")[1]["volume"]["status"]
             == "available", 20, 0.3)
    status, att, _ = env.http("POST", f"{nova}/servers/{sid}/os-volume_attachments",
                              {"volumeAttachment": {"volumeId": vid, "device": "/dev/vdz"}})
    r.check("attach reports the next free device, not the requested one",
            status == 200 and att["volumeAttachment"]["device"] == "/dev/vdb", att)
    wait_for(lambda: env.http("GET", f"{cinder}/volumes/{vid}")[1]["volume"]["status"]
             == "in-use", 20, 0.3)
    expect(r, "snapshot of an in-use volume without force below 3.66: 400", env.http(
        "POST", cinder + "/snapshots", {"snapshot": {"volume_id": vid}}),
        400, "badRequest", "status must be available, but current status is: in-use")
    expect(r, "snapshot with force=false at 3.66: 400", env.http(
        "POST", cinder + "/snapshots", {"snapshot": {"volume_id": vid, "force": False}},
        headers={"OpenStack-API-Version": "volume 3.66"}),
        400, "badRequest", "the 'force' flag is invalid")
    status, snap, _ = env.http("POST", cinder + "/snapshots", {"snapshot": {"volume_id": vid}},
                               headers={"OpenStack-API-Version": "volume 3.66"})
    r.check("snapshot of an in-use volume without force at 3.66", status == 202, snap)
    expect(r, "snapshot with an unknown field: 400", env.http(
        "POST", cinder + "/snapshots", {"snapshot": {"volume_id": vid, "colour": "red"}}),
        400, "badRequest", "('colour' was unexpected)")
    if status == 202:
        sid2 = snap["snapshot"]["id"]
        wait_for(lambda: env.http("GET", f"{cinder}/snapshots/{sid2}")[1]["snapshot"]
                 ["status"] == "available", 20, 0.3)
        env.http("DELETE", f"{cinder}/snapshots/{sid2}")
    status, vols, _ = env.http("GET", cinder + "/volumes/detail")
    stamp = vols["volumes"][0]["created_at"] if status == 200 and vols["volumes"] else ""
    r.check("Cinder timestamps have no zone",
            re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", stamp), stamp)
    env.http("DELETE", f"{nova}/servers/{sid}/os-volume_attachments/{vid}")
    wait_for(lambda: env.http("GET", f"{cinder}/volumes/{vid}")[1]["volume"]["status"]
             == "available", 20, 0.3)
    env.http("DELETE", f"{cinder}/volumes/{vid}")


def interrupted(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--openstack", required=True)
    parser.add_argument("--docker-image", required=True)
    parser.add_argument("--network-name", required=True)
    args = parser.parse_args()
    r = Results()
    with tempfile.TemporaryDirectory(prefix="openstack-standin-") as work:
        env = Env(args, work)
        signal.signal(signal.SIGTERM, interrupted)
        try:
            env.start()
            check_read_only(env, r)
            check_cli_negatives(env, r)
            sid = check_server_lifecycle(env, r, work)
            if sid:
                check_volumes(env, r, sid)
                check_full_zone_and_quota(env, r)
            check_raw_negatives(env, r, sid)
            if sid:
                rc, _, err = env.osc("server", "delete", "--wait", sid)
                gone = env.osc("server", "show", sid)[0] != 0
                r.check("server delete --wait", rc == 0 and gone, err)
                left = subprocess.run(["docker", "ps", "-aq", "--filter",
                                       f"label=openstack-standin.network={args.network_name}"],
                                      capture_output=True, text=True).stdout.split()
                r.check("no container left after delete", not left, left)
        except (Exception, KeyboardInterrupt) as e:
            r.check("the check ran to its end", False, repr(e) or "interrupted")
        finally:
            env.stop()
            if r.failed:
                with open(os.path.join(work, "standin.log")) as f:
                    tail = f.read()[-3000:]
                if tail.strip():
                    print("--- stand-in log (tail) ---\n" + tail)
    print(f"{r.passed} passed, {r.failed} failed")
    sys.exit(1 if r.failed else 0)


if __name__ == "__main__":
    main()
