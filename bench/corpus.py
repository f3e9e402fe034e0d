"""A deterministic, realistic corpus in the plain article format (for bench/run.py)."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SECTIONS = ["International", "Internasional", "Nasional", "Kampus", "Ekonomi", "Bisnis",
            "Olahraga", "Teknologi", "Tekno", "Budaya"]
OUTLETS = ["detik.com", "Kompas.com", "Antara", "CNN Indonesia", "Tempo.co", "Reuters"]
PHRASES = ["Dikutip dari", "Dilansir dari", "Dilansir", "Melansir", "Mengutip"]
CITIES = ["Semarang", "Jakarta", "Yogyakarta", "Surabaya", "Bandung", "Solo"]
TAGS = [f"topik-{i}" for i in range(200)] + ["wisuda", "beasiswa", "pemilu", "banjir", "ekspor"]
WORDS = str.split("yang dan di ke dari ini itu dengan untuk pada dalam tidak akan juga adalah oleh "
         "pemerintah mahasiswa kampus kota warga program kegiatan harga pasar jalan sekolah "
         "universitas penelitian ekonomi daerah nasional teknologi digital masyarakat rektor "
         "dosen fakultas lulusan pertandingan tim final kejuaraan banjir sungai investasi")
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randint(8, 18)) for _ in range(rng.randint(3, 5)))


def article(rng: random.Random, index: int) -> str:
    lines = []
    if rng.random() < 0.3:
        lines.append("---")
        date = BASE_TIME + timedelta(minutes=index * 7)
        lines.append(f"date: {date.isoformat()}")
        lines.append(f"tags: [{', '.join(rng.sample(TAGS, rng.randint(1, 3)))}]")
        if rng.random() < 0.5:
            lines.append("author: Tim Redaksi")
        lines.append("---")
    lines.append(rng.choice(SECTIONS))
    lines.append(sentence(rng, rng.randint(6, 12)).rstrip("."))
    lines.append("")
    lead = paragraph(rng)
    if rng.random() < 0.4:
        lead = f"{rng.choice(PHRASES)} {rng.choice(OUTLETS)}, {lead[0].lower()}{lead[1:]}"
    lines.append(f"{rng.choice(CITIES)} (usmnews) – {lead}")
    for _ in range(rng.randint(2, 4)):
        lines.append(paragraph(rng))
    lines.append(sentence(rng, 4).rstrip(".").title())  # a subheading
    lines.append(paragraph(rng))
    if rng.random() < 0.5:
        lines.append("Poin penting:")
        lines.extend(f"- Butir {i}: {sentence(rng, 8)}" for i in range(1, 4))
    lines.append(paragraph(rng))
    return "\n".join(lines) + "\n"


def generate(folder: Path, count: int, *, seed: int = 2026, start: int = 0) -> int:
    """Write `count` articles (numbered from `start`) in year/month sub-folders."""
    for index in range(start, start + count):
        rng = random.Random(seed * 1_000_003 + index)
        sub = folder / f"{2024 + index // 40000}" / f"{(index // 4000) % 10 + 1:02}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"artikel-{index:06}.txt"
        path.write_text(article(rng, index), encoding="utf-8")
        moment = (BASE_TIME + timedelta(minutes=index * 7)).timestamp()
        os.utime(path, (moment, moment))
    return count
