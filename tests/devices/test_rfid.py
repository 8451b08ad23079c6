import os
import subprocess
import sys

import pytest
import serial

from devices.rfid import iso28560
from devices.rfid.iso28560 import TagData
from devices.rfid.link import ChecksumError, ReaderTimeout
from devices.rfid.proto_3m810 import Framing3M, Reader3M810
from devices.rfid.proto_feig import FramingFeig, ReaderFeig, crc16
from devices.rfid.reader import AFI_LOAN, AFI_SHELF, TagError, open_reader
from devices.rfid.sim_3m810 import Sim3M810
from devices.rfid.sim_feig import SimFeig

PROTOCOLS = {"3m810": (Sim3M810, Reader3M810), "feig": (SimFeig, ReaderFeig)}


@pytest.fixture(params=sorted(PROTOCOLS))
def rig(request):
    sim_cls, _ = PROTOCOLS[request.param]
    sim = sim_cls().start()
    reader = open_reader(request.param, sim.path, timeout=0.3, parity="N")
    yield sim, reader
    reader.port.close()
    sim.stop()


def books(n, library="PY-DH01"):
    return [TagData(f"35001{i:02d}", country="VN", library=library) for i in range(n)]


def test_3m_frames_match_captured_bytes():
    # the hardware-version exchange as captured from a real 3M 810
    assert Framing3M().build(bytes.fromhex("040011"), 0xD5) == bytes.fromhex("D50005040011 8C66")
    answer = bytes.fromhex("D5 00 09 04 00 11 0A 05 00 02 72 50")
    assert Framing3M().check(answer)


def test_feig_crc_as_documented():
    # FEIG's CRC16 is CRC-16/MCRF4XX: check value 0x6F91 for "123456789"
    assert crc16(b"123456789") == 0x6F91
    frame = FramingFeig().build(bytes([0xB0, 0x01, 0x00]))
    assert frame[:4] == bytes([0x02, 0x00, 0x09, 0xFF]) and len(frame) == 9
    assert FramingFeig().check(frame) and not FramingFeig().check(frame[:-1] + b"\0")


def test_3m_version_over_pty():
    with Sim3M810() as sim:
        reader = open_reader("3m810", sim.path, timeout=0.3)
        assert reader.version() == "10.5.0.2"
        assert sim.requests[0] == bytes.fromhex("D50005040011 8C66")
        reader.port.close()


def test_inventory_several_tags_and_describe(rig):
    sim, reader = rig
    tags = [sim.add_tag(d) for d in books(6)]  # more than one FEIG answer page
    sim.add_tag(TagData("P0001", usage=8, country="VN", library="PY-DH01"), afi=AFI_LOAN)
    sim.tags[tags[2].uid].present = False
    found = reader.inventory()
    assert {t.uid for t in found} == {t.uid for t in sim.field()} and len(found) == 6
    described = {d["barcode"]: d for d in map(reader.describe, found)}
    assert described["3500101"] == {
        "uid": tags[1].uid, "barcode": "3500101", "owner": "VN-PY-DH01", "set_index": 1,
        "set_size": 1, "afi": AFI_SHELF, "usage": "item"}
    assert described["P0001"]["usage"] == "patron" and described["P0001"]["afi"] == AFI_LOAN


def test_blank_tag_is_described_with_an_error(rig):
    sim, reader = rig
    tag = sim.add_tag(bytes(34), uid="E004010000000099", afi=0)
    assert reader.describe(reader.inventory()[0]) == {
        "uid": tag.uid, "afi": 0, "error": "blank tag: no ISO 28560-3 data"}


def test_empty_field(rig):
    sim, reader = rig
    assert reader.inventory() == []


def test_read_write_and_afi_round_trip(rig):
    sim, reader = rig
    tag = sim.add_tag(books(1)[0])
    assert iso28560.decode(reader.read_memory(tag.uid)).item_id == "3500100"
    new = TagData("9990001", parts=2, part=2, country="VN", library="PY-TH02")
    reader.write_tag(tag.uid, new)
    assert iso28560.decode(bytes(sim.tags[tag.uid].memory[:34])) == new
    assert iso28560.decode(reader.read_memory(tag.uid)) == new
    reader.set_afi(tag.uid, AFI_LOAN)
    assert sim.tags[tag.uid].afi == AFI_LOAN and reader.get_afi(tag.uid) == AFI_LOAN
    reader.set_afi(tag.uid, AFI_SHELF)
    assert sim.tags[tag.uid].afi == AFI_SHELF


def test_32_byte_tag_is_read_whole(rig):
    sim, reader = rig
    vector = bytes.fromhex("11010131313232333334340000000000000000513e4445373035000000000000")
    tag = sim.add_tag(vector, blocks=8)
    assert reader.describe(reader.inventory()[0])["owner"] == "DE-705"
    assert reader.read_memory(tag.uid) == vector


def test_tag_gone_and_locked_block(rig):
    sim, reader = rig
    tag = sim.add_tag(books(1)[0])
    tag.locked.add(3)
    with pytest.raises(TagError):
        reader.write_blocks(tag.uid, 2, bytes(8))
    assert sim.tags[tag.uid].memory[8:16] != bytes(8)  # nothing written
    tag.present = False
    with pytest.raises(TagError):
        reader.set_afi(tag.uid, AFI_LOAN)
    assert sim.tags[tag.uid].afi == AFI_SHELF


@pytest.mark.parametrize("fault", ["corrupt", "silent", "garbage", "split"])
def test_one_fault_is_survived(rig, fault):
    sim, reader = rig
    tag = sim.add_tag(books(1)[0])
    sim.faults.append(fault)
    reader.set_afi(tag.uid, AFI_LOAN)
    assert reader.get_afi(tag.uid) == AFI_LOAN


def test_persistent_checksum_errors_and_timeouts_raise(rig):
    sim, reader = rig
    tag = sim.add_tag(books(1)[0])
    sim.faults.extend(["corrupt"] * 3)
    with pytest.raises(ChecksumError, match="checksum"):
        reader.get_afi(tag.uid)
    sim.faults.extend(["silent"] * 3)
    with pytest.raises(ReaderTimeout):
        reader.inventory()
    assert reader.get_afi(tag.uid) == AFI_SHELF  # and the link still works afterwards


def test_damaged_request_is_ignored_by_simulator(rig):
    sim, reader = rig
    sim.add_tag(books(1)[0])
    good = reader.framing.build(bytes([0xFE, 0x00, 0x05]) if isinstance(
        reader, Reader3M810) else bytes([0xB0, 0x01, 0x00]))
    reader.port.write(good[:-1] + bytes([good[-1] ^ 1]))
    reader.port.timeout = 0.3
    assert reader.port.read(64) == b""  # a reader stays silent on a bad frame
    assert len(reader.inventory()) == 1


def test_factory_line_settings():
    assert (ReaderFeig.baudrate, ReaderFeig.parity) == (38400, "E")
    assert (Reader3M810.baudrate, Reader3M810.parity) == (19200, "N")
    reader = open_reader("feig", "loop://")
    assert (reader.port.baudrate, reader.port.parity) == (38400, "E")


def test_unknown_protocol_and_bad_port():
    with pytest.raises(ValueError, match="unknown RFID protocol"):
        open_reader("acme", "loop://")
    with pytest.raises(serial.SerialException):
        open_reader("feig", "/nonexistent/tty")


@pytest.mark.parametrize("module", ["devices.rfid.sim_feig", "devices.rfid.sim_3m810"])
def test_simulator_runs_as_a_program(module):
    proc = subprocess.Popen([sys.executable, "-m", module, "--tags",
                             "3500123@VN-PY01,A1#1/2"], stdout=subprocess.PIPE, text=True)
    try:
        path = proc.stdout.readline().strip()
        assert os.path.exists(path)
        reader = open_reader(module.rsplit("_", 1)[1], path, timeout=0.5, parity="N")
        got = sorted((d["barcode"], d.get("owner"), d["set_size"])
                     for d in map(reader.describe, reader.inventory()))
        assert got == [("3500123", "VN-PY01", 1), ("A1", None, 2)]
        reader.port.close()
    finally:
        proc.terminate()
        proc.wait(5)
