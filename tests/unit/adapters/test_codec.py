from __future__ import annotations

import math

import pytest

from centinela.adapters.codec import ByteOrder, DataType, WordOrder, decode, encode, register_count

NUMERIC = [t for t in DataType if t is not DataType.BOOL]
SAMPLES = {
    DataType.INT16: [-32768, -1, 0, 1234, 32767],
    DataType.UINT16: [0, 1, 40000, 65535],
    DataType.INT32: [-(2**31), -123456, 0, 2**31 - 1],
    DataType.UINT32: [0, 3_000_000_000, 2**32 - 1],
    DataType.FLOAT32: [-1.5, 0.0, 3.25, 2450.125],
    DataType.FLOAT64: [-1e300, 0.1, 2450.123456789, math.pi],
}


@pytest.mark.parametrize("byte_order", list(ByteOrder))
@pytest.mark.parametrize("word_order", list(WordOrder))
@pytest.mark.parametrize("data_type", NUMERIC)
def test_every_type_and_order_round_trips(
    data_type: DataType, byte_order: ByteOrder, word_order: WordOrder
) -> None:
    for value in SAMPLES[data_type]:
        registers = encode(value, data_type, byte_order, word_order)
        assert len(registers) == register_count(data_type)
        assert all(0 <= r <= 0xFFFF for r in registers)
        assert decode(registers, data_type, byte_order, word_order) == value


def test_known_wire_layouts_of_float32_one() -> None:
    # 1.0f is 0x3F800000.
    assert encode(1.0, DataType.FLOAT32) == [0x3F80, 0x0000]
    assert encode(1.0, DataType.FLOAT32, word_order=WordOrder.LITTLE) == [0x0000, 0x3F80]
    assert encode(1.0, DataType.FLOAT32, byte_order=ByteOrder.LITTLE) == [0x803F, 0x0000]
    assert encode(1.0, DataType.FLOAT32, ByteOrder.LITTLE, WordOrder.LITTLE) == [0x0000, 0x803F]


def test_signed_and_unsigned_read_the_same_register_differently() -> None:
    assert decode([0xFFFF], DataType.INT16) == -1
    assert decode([0xFFFF], DataType.UINT16) == 65535
    assert decode([0x0001, 0x0000], DataType.UINT32, word_order=WordOrder.LITTLE) == 1


def test_wrong_register_count_and_overflow_are_errors() -> None:
    with pytest.raises(ValueError, match="needs 2 registers, got 1"):
        decode([1], DataType.FLOAT32)
    with pytest.raises(ValueError, match="does not fit a int16"):
        encode(40000, DataType.INT16)
