"""A STAND-IN for Aliyun OSS, written for these tests. It is not OSS.

No OSS emulator can be installed on the machines this project is tested on, and
S3 emulators are no substitute (they ignore OSS's ``x-oss-copy-source`` header and
create empty copies). This module is a small HTTP server on 127.0.0.1 that speaks
the part of the OSS REST protocol that :class:`dflow_oss.OSSClient` uses, written
from Aliyun's protocol documentation:

- every request must carry a valid version-1 signature (``Authorization: OSS
  <id>:<base64 HMAC-SHA1>`` over the verb, ``Content-MD5``, ``Content-Type``, the
  date, the ``x-oss-*`` headers and the canonical resource with its
  sub-resources), a known access key id and a date within 15 minutes;
- a ``Content-MD5`` header is checked against the body;
- PutObject, GetObject (with ``Range``), HeadObject, DeleteObject, CopyObject
  (``x-oss-copy-source``, ``x-oss-metadata-directive``; objects above
  ``copy_object_limit`` are refused as OSS refuses them), multipart uploads
  (initiate, UploadPart, UploadPartCopy with ``x-oss-copy-source-range``,
  ListParts, complete, abort), object tagging, ListObjects (``prefix``, ``marker``,
  ``delimiter``, ``max-keys``, ``encoding-type=url``), DeleteMultipleObjects,
  PutBucket;
- ETags, object types (``Normal``/``Multipart``) and ``x-oss-hash-crc64ecma``
  are returned as OSS returns them, so oss2's CRC checks run.

Anything else is answered with ``501 NotImplemented`` naming the request, so a
client that starts using another call fails loudly here. The tests in
``test_oss_real.py`` run the same conformance suite against real OSS when the
``OSS_*`` variables are set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import crcmod

#: CRC-64/XZ (ECMA-182, reflected), the checksum OSS reports in x-oss-hash-crc64ecma
_crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)

# query parameters that are part of the signed resource (OSS "sub-resources"); list
# parameters (prefix, marker, max-keys, ...) are not
SUBRESOURCES = frozenset(
    "acl uploads location cors logging website referer lifecycle delete append tagging objectMeta "
    "uploadId partNumber security-token position img style styleName replication replicationProgress "
    "replicationLocation cname bucketInfo comp qos live status vod startTime endTime symlink "
    "x-oss-process response-content-type response-content-language response-expires "
    "response-cache-control response-content-disposition response-content-encoding restore "
    "callback callback-var stat objectInfo versions versioning versionId policy encryption "
    "continuation-token sequential".split()
)
MAX_SKEW_SECONDS = 15 * 60
MiB = 1024 * 1024


@dataclass
class StoredObject:
    data: bytes
    etag: str
    kind: str  # "Normal" or "Multipart"
    meta: Dict[str, str]
    content_type: str
    mtime: float = field(default_factory=time.time)
    tags: Dict[str, str] = field(default_factory=dict)
    crc64: int = -1

    def __post_init__(self) -> None:
        if self.crc64 < 0:  # once: every GET and HEAD reports it
            self.crc64 = _crc64(self.data)


@dataclass
class Upload:
    bucket: str
    key: str
    meta: Dict[str, str]
    content_type: str
    parts: Dict[int, Tuple[bytes, str]] = field(default_factory=dict)


class OSSError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (the tests' dropping proxy does) is not an error to print."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class OSSStandIn:
    """The stand-in server; ``endpoint`` is its ``http://127.0.0.1:<port>`` URL.

    :param copy_object_limit: CopyObject refuses sources larger than this (OSS:
        1 GiB); tests lower it so that a client must use UploadPartCopy.
    :param min_part_size: every part but the last must be at least this big (OSS: 100 KiB).
    """

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        copy_object_limit: int = 1024 * MiB,
        min_part_size: int = 100 * 1024,
    ) -> None:
        self.credentials = {access_key_id: access_key_secret}
        self.copy_object_limit = copy_object_limit
        #: give a CopyObject result a new ETag (as S3 does) instead of the source's
        self.copy_changes_etag = False
        self.min_part_size = min_part_size
        self.buckets: Dict[str, Dict[str, StoredObject]] = {}
        self.uploads: Dict[str, Upload] = {}
        self.lock = threading.Lock()
        self.requests: List[Tuple[str, str]] = []  # (method, operation) of every request served
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="oss-standin", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "OSSStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def operations(self) -> List[str]:
        with self.lock:
            return [op for _, op in self.requests]

    # ------------------------------------------------------------------ authentication

    def check_signature(self, method: str, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str]) -> None:
        auth = headers.get("authorization", "")
        match = re.fullmatch(r"OSS ([^:]+):(.+)", auth)
        if not match:
            raise OSSError(403, "AccessDenied", "missing or malformed Authorization header")
        key_id, given = match.groups()
        secret = self.credentials.get(key_id)
        if secret is None:
            raise OSSError(403, "InvalidAccessKeyId", f"the access key id {key_id!r} does not exist")
        date = headers.get("x-oss-date") or headers.get("date") or ""
        try:
            skew = abs(time.time() - parsedate_to_datetime(date).timestamp())
        except (TypeError, ValueError):
            raise OSSError(403, "AccessDenied", f"bad Date header {date!r}") from None
        if skew > MAX_SKEW_SECONDS:
            raise OSSError(403, "RequestTimeTooSkewed", "the request time is too far from the server's")
        oss_headers = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-oss-"))
        canonical_headers = "".join(f"{k}:{v}\n" for k, v in oss_headers)
        resource = f"/{bucket}/{key}" if bucket else "/"
        sub = sorted((k, v) for k, v in query.items() if k in SUBRESOURCES)
        if sub:
            resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in sub)
        to_sign = "\n".join(
            [method, headers.get("content-md5", ""), headers.get("content-type", ""), date, canonical_headers + resource]
        )
        expected = base64.b64encode(hmac.new(secret.encode(), to_sign.encode("utf-8"), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, given):
            raise OSSError(403, "SignatureDoesNotMatch", "the request signature does not match")

    # ------------------------------------------------------------------ objects

    def bucket(self, name: str) -> Dict[str, StoredObject]:
        try:
            return self.buckets[name]
        except KeyError:
            raise OSSError(404, "NoSuchBucket", f"the bucket {name!r} does not exist") from None

    def get(self, bucket: str, key: str) -> StoredObject:
        obj = self.bucket(bucket).get(key)
        if obj is None:
            raise OSSError(404, "NoSuchKey", f"the object {key!r} does not exist")
        return obj

    def copy_source(self, headers: Dict[str, str]) -> Tuple[str, str]:
        source = unquote(headers["x-oss-copy-source"])
        src_bucket, _, src_key = source.lstrip("/").partition("/")
        return src_bucket, src_key


def _meta_of(headers: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("x-oss-meta-")}


def _md5_etag(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _child(parent: ET.Element, tag: str, text: Optional[str] = None) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = text
    return node


def _parse_range(spec: str, size: int) -> Optional[Tuple[int, int]]:
    """``(first, last)`` of a ``bytes=a-b`` header, ``None`` when there is no valid range."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if m.group(1):
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else size - 1
    else:
        first, last = max(0, size - int(m.group(2))), size - 1
    if first >= size:
        raise OSSError(416, "InvalidRange", f"the range {spec!r} is not satisfiable for {size} bytes")
    return first, min(last, size - 1)


def _make_handler(server: OSSStandIn) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "OSSStandIn"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        # -------------------------------------------------------------- plumbing

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: bytes = b"", headers: Optional[Dict[str, str]] = None) -> None:
            self.send_response(status)
            self.send_header("x-oss-request-id", uuid.uuid4().hex[:24].upper())
            self.send_header("Date", formatdate(usegmt=True))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and body:
                self.wfile.write(body)

        def _error(self, err: OSSError) -> None:
            root = ET.Element("Error")
            for tag, text in (("Code", err.code), ("Message", err.message), ("RequestId", uuid.uuid4().hex[:24])):
                _child(root, tag, text)
            _child(root, "HostId", "oss-standin")
            self._send(err.status, _xml(root), {"Content-Type": "application/xml", "x-oss-ec": err.code})

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            bucket, _, raw_key = parts.path.lstrip("/").partition("/")
            key = unquote(raw_key)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = self._body() if self.command in ("PUT", "POST") else b""
            # hashed once: for the Content-MD5 check and the ETag, as OSS itself does
            self.body_md5 = hashlib.md5(body).digest()
            try:
                server.check_signature(self.command, unquote(bucket), key, query, headers)
                if "content-md5" in headers:
                    given = headers["content-md5"]
                    if base64.b64encode(self.body_md5).decode() != given:
                        raise OSSError(400, "InvalidDigest", "the Content-MD5 you specified does not match the body")
                op = _operation(self.command, key, query, headers)
                with server.lock:
                    server.requests.append((self.command, op))
                getattr(self, "op_" + op)(unquote(bucket), key, query, headers, body)
            except OSSError as err:
                self._error(err)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        # -------------------------------------------------------------- bucket operations

        def op_put_bucket(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            with server.lock:
                server.buckets.setdefault(bucket, {})
            self._send(200)

        def op_list_objects(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            prefix = query.get("prefix", "")
            marker = query.get("marker", "")
            delimiter = query.get("delimiter", "")
            max_keys = min(int(query.get("max-keys") or 100), 1000)
            url = query.get("encoding-type") == "url"
            with server.lock:
                names = sorted(k for k in server.bucket(bucket) if k.startswith(prefix))
                objects = {k: server.buckets[bucket][k] for k in names}
            entries: List[Tuple[str, Optional[StoredObject]]] = []
            truncated = False
            for name in names:
                rolled = None
                if delimiter:
                    cut = name.find(delimiter, len(prefix))
                    if cut >= 0:
                        rolled = name[: cut + len(delimiter)]
                item = rolled or name
                # a common prefix is reported once; the marker may be a common prefix itself
                if item <= marker or (rolled and entries and entries[-1][0] == rolled):
                    continue
                if len(entries) == max_keys:
                    truncated = True
                    break
                entries.append((item, None if rolled else objects[name]))

            def enc(text: str) -> str:
                return quote(text, safe="/") if url else text

            root = ET.Element("ListBucketResult")
            for tag, text in (("Name", bucket), ("Prefix", enc(prefix)), ("Marker", enc(marker)),
                              ("MaxKeys", str(max_keys)), ("Delimiter", enc(delimiter)),
                              ("IsTruncated", "true" if truncated else "false")):
                _child(root, tag, text)
            if url:
                _child(root, "EncodingType", "url")
            if truncated:
                _child(root, "NextMarker", enc(entries[-1][0]))
            for name, obj in entries:
                if obj is None:
                    _child(_child(root, "CommonPrefixes"), "Prefix", enc(name))
                    continue
                node = _child(root, "Contents")
                for tag, text in (("Key", enc(name)), ("LastModified", _iso(obj.mtime)), ("ETag", f'"{obj.etag}"'),
                                  ("Type", obj.kind), ("Size", str(len(obj.data))), ("StorageClass", "Standard")):
                    _child(node, tag, text)
            self._send(200, _xml(root), {"Content-Type": "application/xml"})

        def op_delete_objects(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            names = [unquote(n.text or "") if query.get("encoding-type") == "url" else (n.text or "")
                     for n in ET.fromstring(body).iter("Key")]
            with server.lock:
                objects = server.bucket(bucket)
                for name in names:
                    objects.pop(name, None)
            root = ET.Element("DeleteResult")
            self._send(200, _xml(root), {"Content-Type": "application/xml"})

        # -------------------------------------------------------------- object operations

        def _object_headers(self, obj: StoredObject) -> Dict[str, str]:
            out = {
                "ETag": f'"{obj.etag}"',
                "Last-Modified": formatdate(obj.mtime, usegmt=True),
                "Content-Type": obj.content_type,
                "x-oss-object-type": obj.kind,
                "x-oss-hash-crc64ecma": str(obj.crc64),
                "Accept-Ranges": "bytes",
            }
            out.update(obj.meta)
            if obj.tags:
                out["x-oss-tagging-count"] = str(len(obj.tags))
            return out

        def op_put_object(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            obj = StoredObject(body, self.body_md5.hex().upper(), "Normal", _meta_of(headers),
                               headers.get("content-type", "application/octet-stream"))
            with server.lock:
                server.bucket(bucket)[key] = obj
            self._send(200, headers={"ETag": f'"{obj.etag}"', "x-oss-hash-crc64ecma": str(obj.crc64),
                                     "Content-MD5": base64.b64encode(self.body_md5).decode()})

        def op_copy_object(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            src_bucket, src_key = server.copy_source(headers)
            with server.lock:
                src = server.get(src_bucket, src_key)
                server.bucket(bucket)
            if len(src.data) > server.copy_object_limit:
                raise OSSError(400, "InvalidArgument",
                               f"CopyObject takes objects up to {server.copy_object_limit} bytes; use UploadPartCopy")
            replace = headers.get("x-oss-metadata-directive", "COPY").upper() == "REPLACE"
            meta = _meta_of(headers) if replace else dict(src.meta)
            ctype = headers.get("content-type", src.content_type) if replace else src.content_type
            etag = _md5_etag(src.data) if server.copy_changes_etag else src.etag
            kind = "Normal" if server.copy_changes_etag else src.kind
            obj = StoredObject(src.data, etag, kind, meta, ctype, tags=dict(src.tags), crc64=src.crc64)
            with server.lock:
                server.bucket(bucket)[key] = obj
            root = ET.Element("CopyObjectResult")
            _child(root, "ETag", f'"{obj.etag}"')
            _child(root, "LastModified", _iso(obj.mtime))
            self._send(200, _xml(root), {"Content-Type": "application/xml", "ETag": f'"{obj.etag}"'})

        def op_get_object(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            with server.lock:
                obj = server.get(bucket, key)
            if "if-match" in headers and headers["if-match"].strip('"') != obj.etag:
                raise OSSError(412, "PreconditionFailed", "If-Match does not match the object's ETag")
            out = self._object_headers(obj)
            size = len(obj.data)
            span = _parse_range(headers["range"], size) if "range" in headers else None
            if span is None:
                if self.command == "HEAD":
                    self._send_head(out, size)
                else:
                    self._send(200, obj.data, out)
                return
            first, last = span
            out["Content-Range"] = f"bytes {first}-{last}/{size}"
            out.pop("x-oss-hash-crc64ecma")  # OSS reports the CRC of the whole object only
            if self.command == "HEAD":
                self._send_head(out, last - first + 1, status=206)
            else:
                self._send(206, obj.data[first : last + 1], out)

        def _send_head(self, headers: Dict[str, str], length: int, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("x-oss-request-id", uuid.uuid4().hex[:24].upper())
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(length))
            self.end_headers()

        op_head_object = op_get_object

        def op_delete_object(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            with server.lock:
                server.bucket(bucket).pop(key, None)
            self._send(204)

        def op_put_tagging(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            tags = {t.findtext("Key") or "": t.findtext("Value") or "" for t in ET.fromstring(body).iter("Tag")}
            with server.lock:
                server.get(bucket, key).tags = tags
            self._send(200)

        def op_get_tagging(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            with server.lock:
                tags = dict(server.get(bucket, key).tags)
            root = ET.Element("Tagging")
            tag_set = _child(root, "TagSet")
            for k, v in tags.items():
                tag = _child(tag_set, "Tag")
                _child(tag, "Key", k)
                _child(tag, "Value", v)
            self._send(200, _xml(root), {"Content-Type": "application/xml"})

        # -------------------------------------------------------------- multipart

        def _upload(self, query: Dict[str, str], bucket: str, key: str) -> Upload:
            upload = server.uploads.get(query.get("uploadId", ""))
            if upload is None or (upload.bucket, upload.key) != (bucket, key):
                raise OSSError(404, "NoSuchUpload", "the multipart upload does not exist")
            return upload

        def op_init_upload(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            upload_id = uuid.uuid4().hex.upper()
            with server.lock:
                server.bucket(bucket)
                server.uploads[upload_id] = Upload(bucket, key, _meta_of(headers),
                                                   headers.get("content-type", "application/octet-stream"))
            root = ET.Element("InitiateMultipartUploadResult")
            for tag, text in (("Bucket", bucket), ("Key", key), ("UploadId", upload_id)):
                _child(root, tag, text)
            self._send(200, _xml(root), {"Content-Type": "application/xml"})

        def op_upload_part(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            number = int(query["partNumber"])
            etag = self.body_md5.hex().upper()
            with server.lock:
                self._upload(query, bucket, key).parts[number] = (body, etag)
            self._send(200, headers={"ETag": f'"{etag}"', "x-oss-hash-crc64ecma": str(_crc64(body))})

        def op_upload_part_copy(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            number = int(query["partNumber"])
            src_bucket, src_key = server.copy_source(headers)
            with server.lock:
                src = server.get(src_bucket, src_key)
            span = _parse_range(headers.get("x-oss-copy-source-range", ""), len(src.data))
            data = src.data if span is None else src.data[span[0] : span[1] + 1]
            etag = _md5_etag(data)
            with server.lock:
                self._upload(query, bucket, key).parts[number] = (data, etag)
            root = ET.Element("CopyPartResult")
            _child(root, "LastModified", _iso(time.time()))
            _child(root, "ETag", f'"{etag}"')
            self._send(200, _xml(root), {"Content-Type": "application/xml", "ETag": f'"{etag}"'})

        def op_complete_upload(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            wanted = [(int(p.findtext("PartNumber") or 0), (p.findtext("ETag") or "").strip('"'))
                      for p in ET.fromstring(body).iter("Part")]
            with server.lock:
                upload = self._upload(query, bucket, key)
                numbers = [n for n, _ in wanted]
                if not wanted or numbers != sorted(set(numbers)):
                    raise OSSError(400, "InvalidPartOrder", "parts must be listed once each, in ascending order")
                chosen = []
                for i, (number, etag) in enumerate(wanted):
                    part = upload.parts.get(number)
                    if part is None or part[1] != etag.upper():
                        raise OSSError(400, "InvalidPart", f"part {number} was not uploaded or its ETag differs")
                    if i < len(wanted) - 1 and len(part[0]) < server.min_part_size:
                        raise OSSError(400, "EntityTooSmall", f"part {number} is smaller than the minimum part size")
                    chosen.append(part)
                del server.uploads[query["uploadId"]]
            digest = hashlib.md5(b"".join(bytes.fromhex(etag) for _, etag in chosen)).hexdigest().upper()
            obj = StoredObject(b"".join(data for data, _ in chosen), f"{digest}-{len(chosen)}", "Multipart",
                               upload.meta, upload.content_type)
            with server.lock:
                server.bucket(bucket)[key] = obj
            root = ET.Element("CompleteMultipartUploadResult")
            for tag, text in (("Bucket", bucket), ("Key", key), ("ETag", f'"{obj.etag}"')):
                _child(root, tag, text)
            self._send(200, _xml(root), {"Content-Type": "application/xml", "ETag": f'"{obj.etag}"',
                                         "x-oss-hash-crc64ecma": str(obj.crc64)})

        def op_list_parts(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            marker = int(query.get("part-number-marker") or 0)
            limit = int(query.get("max-parts") or 1000)
            with server.lock:
                parts = sorted((n, p) for n, p in self._upload(query, bucket, key).parts.items() if n > marker)
            root = ET.Element("ListPartsResult")
            for tag, text in (("Bucket", bucket), ("Key", key), ("UploadId", query["uploadId"]),
                              ("PartNumberMarker", str(marker)), ("MaxParts", str(limit)),
                              ("IsTruncated", "true" if len(parts) > limit else "false")):
                _child(root, tag, text)
            shown = parts[:limit]
            _child(root, "NextPartNumberMarker", str(shown[-1][0] if shown else marker))
            for number, (data, etag) in shown:
                node = _child(root, "Part")
                for tag, text in (("PartNumber", str(number)), ("LastModified", _iso(time.time())),
                                  ("ETag", f'"{etag}"'), ("Size", str(len(data)))):
                    _child(node, tag, text)
            self._send(200, _xml(root), {"Content-Type": "application/xml"})

        def op_abort_upload(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            with server.lock:
                self._upload(query, bucket, key)
                del server.uploads[query["uploadId"]]
            self._send(204)

        def op_not_implemented(self, bucket: str, key: str, query: Dict[str, str], headers: Dict[str, str], body: bytes) -> None:
            raise OSSError(501, "NotImplemented",
                           f"the OSS stand-in does not implement {self.command} {self.path} (sub-resources {sorted(query)})")

    return Handler


def _operation(method: str, key: str, query: Dict[str, str], headers: Dict[str, str]) -> str:
    """The name of the operation a request asks for (``op_<name>`` of the handler)."""
    copy = "x-oss-copy-source" in headers
    table = {
        ("PUT", False): "put_bucket" if not query else "not_implemented",
        ("GET", False): "list_objects" if not (set(query) & SUBRESOURCES) else "not_implemented",
        ("POST", False): "delete_objects" if "delete" in query else "not_implemented",
    }
    if not key:
        return table.get((method, False), "not_implemented")
    if method == "PUT":
        if "partNumber" in query and "uploadId" in query:
            return "upload_part_copy" if copy else "upload_part"
        if "tagging" in query:
            return "put_tagging"
        return "copy_object" if copy else ("put_object" if not (set(query) & SUBRESOURCES) else "not_implemented")
    if method == "POST":
        return "init_upload" if "uploads" in query else ("complete_upload" if "uploadId" in query else "not_implemented")
    if method == "GET":
        if "uploadId" in query:
            return "list_parts"
        return "get_tagging" if "tagging" in query else ("get_object" if not (set(query) & SUBRESOURCES) else "not_implemented")
    if method == "HEAD":
        return "head_object" if not query else "not_implemented"
    if method == "DELETE":
        return "abort_upload" if "uploadId" in query else ("delete_object" if not query else "not_implemented")
    return "not_implemented"

