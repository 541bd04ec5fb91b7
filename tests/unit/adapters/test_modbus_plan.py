from __future__ import annotations

from typing import Any

from centinela.adapters.codec import DataType, encode
from centinela.adapters.config import ModbusDevice, Table
from centinela.adapters.modbus import MAX_BITS, MAX_REGISTERS, decode_block, plan_blocks


def _device(points: list[dict[str, Any]], **extra: Any) -> ModbusDevice:
    full = [
        {"name": f"p{i}", "thing": "a:b", "feature": "f", "property": f"p{i}", **p}
        for i, p in enumerate(points)
    ]
    return ModbusDevice.model_validate({"name": "d", "points": full, **extra})


def test_adjacent_points_share_one_read_and_gaps_split() -> None:
    device = _device([{"address": 0}, {"address": 2}, {"address": 4, "type": "uint16"}, {"address": 10}])
    blocks = plan_blocks(device)
    assert [(b.table, b.start, b.count, len(b.points)) for b in blocks] == [
        (Table.HOLDING, 0, 5, 3),
        (Table.HOLDING, 10, 2, 1),
    ]
    gap = plan_blocks(device.model_copy(update={"max_gap": 5}))
    assert [(b.start, b.count) for b in gap] == [(0, 12)]


def test_reads_stay_within_protocol_limits() -> None:
    registers = _device([{"address": 2 * i} for i in range(100)])  # 200 registers
    blocks = plan_blocks(registers)
    assert [b.count for b in blocks] == [124, 76]
    assert all(b.count <= MAX_REGISTERS for b in blocks)
    bits = _device([{"address": i, "table": "coil", "type": "bool"} for i in range(2500)])
    assert [b.count for b in plan_blocks(bits)] == [MAX_BITS, 500]


def test_tables_are_read_separately_and_bits_of_a_register_share_it() -> None:
    device = _device(
        [
            {"address": 0, "table": "input", "type": "bool", "bit": 0},
            {"address": 0, "table": "input", "type": "bool", "bit": 15},
            {"address": 0, "table": "discrete", "type": "bool"},
        ]
    )
    blocks = plan_blocks(device)
    assert sorted((b.table.value, b.count, len(b.points)) for b in blocks) == [
        ("discrete", 1, 1),
        ("input", 1, 2),
    ]
    inputs = next(b for b in blocks if b.table is Table.INPUT)
    readings = decode_block(device, inputs, [0x8000], 5.0)
    assert [r.value for r in readings] == [False, True]


def test_decoding_applies_scale_offset_and_per_point_order() -> None:
    device = _device(
        [
            {"address": 0, "type": "int16", "scale": 0.1, "offset": -40},
            {"address": 1, "type": "uint32", "word_order": "little"},
        ]
    )
    (block,) = plan_blocks(device)
    data = [*encode(655, DataType.INT16), *encode(70000, DataType.UINT32, word_order=_little())]
    values = [r.value for r in decode_block(device, block, data, 1.0)]
    assert abs(values[0] - 25.5) < 1e-9  # type: ignore[operator]
    assert values[1] == 70000


def _little() -> Any:
    from centinela.adapters.codec import WordOrder

    return WordOrder.LITTLE
