"""A contactless patron card for vsmartcard's vpcd reader driver (a test and demo peer).

vpcd (loaded by pcscd) listens on TCP 35963 for reader 0 (35964 for reader 1); a virtual
card "is inserted" by connecting and "removed" by disconnecting. Every message either way
is a 2-byte big-endian length, then the payload. From the reader, a 1-byte payload is a
control code (0 power off, 1 power on, 2 reset, 4 send ATR); anything longer is a
command APDU, answered with response data and a status word.

The card answers the PC/SC "get data" pseudo-APDU FF CA 00 00 00 with its UID, like a
contactless reader does for ISO 14443 cards, and nothing else: a patron card here only
identifies. It carries no national ID data.
"""

import argparse
import socket
import struct
import threading

VPCD_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4
# ATR of a PC/SC contactless storage card (PC/SC part 3): 3B 8F 80 01 80 4F 0C A0 00 00
# 03 06 03 (ISO 14443 A part 3) 00 01 (MIFARE Classic 1K) 00 00 00 00 and TCK.
ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
SW_OK = b"\x90\x00"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_WRONG_LE = b"\x6c"
SW_NOT_SUPPORTED = b"\x6a\x81"
SW_INS_UNKNOWN = b"\x6d\x00"
SW_CLA_UNKNOWN = b"\x6e\x00"


def answer(uid: bytes, apdu: bytes) -> bytes:
    """The card's (or rather, the reader firmware's) answer to one APDU."""
    if len(apdu) < 4:
        return SW_NOT_SUPPORTED
    cla, ins, p1, p2 = apdu[:4]
    if cla != 0xFF:
        return SW_CLA_UNKNOWN
    if ins != 0xCA:
        return SW_INS_UNKNOWN
    if (p1, p2) != (0x00, 0x00):
        return SW_NOT_SUPPORTED if p1 == 0x01 else SW_WRONG_P1P2  # ATS: not ISO 14443-4
    le = apdu[4] if len(apdu) > 4 else 0
    if le not in (0, len(uid)):
        return SW_WRONG_LE + bytes([len(uid)])
    return uid + SW_OK


def _recv_exact(sock, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class VirtualCard:
    """Insert with insert(), remove with remove(); serves vpcd from a thread meanwhile."""

    def __init__(self, uid: bytes, host: str = "127.0.0.1", port: int = VPCD_PORT,
                 atr: bytes = ATR):
        if not 4 <= len(uid) <= 10:
            raise ValueError("an ISO 14443 UID has 4, 7 or 10 bytes")
        self.uid, self.host, self.port, self.atr = uid, host, port, atr
        self.sock = None
        self.thread = None
        self.apdus: list[bytes] = []
        self.powered = False

    def insert(self, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._serve, daemon=True, name="vpcd-card")
        self.thread.start()

    def remove(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        if self.thread is not None:
            self.thread.join(5)
            self.thread = None

    def _serve(self) -> None:
        sock = self.sock
        try:
            while True:
                head = _recv_exact(sock, 2)
                if head is None:
                    return
                msg = _recv_exact(sock, struct.unpack(">H", head)[0])
                if msg is None:
                    return
                reply = self._handle(msg)
                if reply is not None:
                    sock.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            return  # removed: the socket was closed under us

    def _handle(self, msg: bytes) -> bytes | None:
        if len(msg) == 1:
            code = msg[0]
            if code in (POWER_ON, RESET):
                self.powered = True
            elif code == POWER_OFF:
                self.powered = False
            return self.atr if code == GET_ATR else None
        self.apdus.append(msg)
        return answer(self.uid, msg)

    def __enter__(self):
        self.insert()
        return self

    def __exit__(self, *exc):
        self.remove()


def main(argv=None):
    ap = argparse.ArgumentParser(description="insert a virtual patron card into vpcd")
    ap.add_argument("uid", help="card UID in hex, e.g. 04A1B2C3D4E5F6")
    ap.add_argument("--port", type=int, default=VPCD_PORT)
    args = ap.parse_args(argv)
    card = VirtualCard(bytes.fromhex(args.uid), port=args.port)
    card.insert()
    print(f"card {args.uid} inserted; Ctrl-C removes it", flush=True)
    try:
        card.thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        card.remove()


if __name__ == "__main__":
    main()
