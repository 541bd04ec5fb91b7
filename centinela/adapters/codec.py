"""Modbus register codec: numbers to and from 16-bit registers, in any byte and word order."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import Enum

__all__ = ["ByteOrder", "DataType", "WordOrder", "decode", "encode", "register_count"]


class DataType(Enum):
    """How a point's registers are interpreted; `bool` is a coil, discrete input or register bit."""

    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOL = "bool"


class ByteOrder(Enum):
    """Order of the two bytes inside each register: `big` is AB (Modbus standard), `little` is BA."""

    BIG = "big"
    LITTLE = "little"


class WordOrder(Enum):
    """Order of registers in a multi-register value: `big` puts the most significant word first."""

    BIG = "big"
    LITTLE = "little"


_FORMATS: dict[DataType, str] = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}


def register_count(data_type: DataType) -> int:
    """Number of 16-bit registers a value of `data_type` occupies (1 for `bool` register bits)."""
    if data_type is DataType.BOOL:
        return 1
    return struct.calcsize(_FORMATS[data_type]) // 2


def _reorder(words: list[bytes], byte_order: ByteOrder, word_order: WordOrder) -> list[bytes]:
    if byte_order is ByteOrder.LITTLE:
        words = [w[::-1] for w in words]
    if word_order is WordOrder.LITTLE:
        words = words[::-1]
    return words


def decode(
    registers: Sequence[int],
    data_type: DataType,
    byte_order: ByteOrder = ByteOrder.BIG,
    word_order: WordOrder = WordOrder.BIG,
) -> int | float:
    """Decode the registers of one value (exactly `register_count(data_type)` of them)."""
    if data_type is DataType.BOOL:
        msg = "A bool point is decoded from bits, not from registers."
        raise ValueError(msg)
    count = register_count(data_type)
    if len(registers) != count:
        msg = f"A {data_type.value} value needs {count} registers, got {len(registers)}."
        raise ValueError(msg)
    words = [struct.pack(">H", r & 0xFFFF) for r in registers]
    # The wire order is undone by applying the same (self-inverse) permutation.
    raw = b"".join(_reorder(words, byte_order, word_order))
    value: int | float = struct.unpack(_FORMATS[data_type], raw)[0]
    return value


def encode(
    value: float,
    data_type: DataType,
    byte_order: ByteOrder = ByteOrder.BIG,
    word_order: WordOrder = WordOrder.BIG,
) -> list[int]:
    """Encode one value into registers as a device with this byte and word order would hold it."""
    if data_type is DataType.BOOL:
        msg = "A bool point is encoded as a bit, not as registers."
        raise ValueError(msg)
    fmt = _FORMATS[data_type]
    number: float = value if data_type in (DataType.FLOAT32, DataType.FLOAT64) else int(round(value))
    try:
        raw = struct.pack(fmt, number)
    except struct.error as exc:
        msg = f"The value {value!r} does not fit a {data_type.value}."
        raise ValueError(msg) from exc
    words = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    return [struct.unpack(">H", w)[0] for w in _reorder(words, byte_order, word_order)]
