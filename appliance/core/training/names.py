"""Made-up Vietnamese names, phones and e-mails for the practice copy: plausible at the
desk (họ, tên đệm, tên), the same for a card every time it is made (seeded by the
card's id), and never anyone's real contact (e-mails end in .invalid, which no mail
server serves)."""

import hashlib
import random

from ..fold import fold

HO = ("Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê", "Phạm", "Hoàng", "Huỳnh",
      "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trịnh")
DEM = {"m": ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Gia", "Anh", "Công", "Xuân"),
       "f": ("Thị", "Thị", "Ngọc", "Thu", "Thanh", "Mai", "Bảo", "Khánh", "Phương", "Diệu")}
TEN = {"m": ("An", "Bình", "Cường", "Dũng", "Duy", "Hải", "Hùng", "Huy", "Khang", "Khoa",
             "Long", "Minh", "Nam", "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Trung", "Tuấn",
             "Việt", "Vinh"),
       "f": ("Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh",
             "Loan", "Mai", "Ngân", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang",
             "Uyên", "Vy", "Yến")}
PHONE_HEADS = ("090", "091", "093", "094", "096", "097", "098", "086", "088", "070", "077")


def _rng(seed):
    return random.Random(hashlib.sha256(str(seed).encode("utf-8")).digest())


def full_name(seed):
    """Họ, tên đệm, tên: 'Trần Thị Hương', 'Lê Quốc Huy'."""
    rng = _rng(seed)
    sex = rng.choice("mf")
    return f"{rng.choice(HO)} {rng.choice(DEM[sex])} {rng.choice(TEN[sex])}"


def phone(seed):
    rng = _rng(f"phone|{seed}")
    return rng.choice(PHONE_HEADS) + "".join(rng.choice("0123456789") for _ in range(7))


def email(seed):
    """The made-up name in plain letters, at a domain that cannot receive mail."""
    words = fold(full_name(seed)).split()
    return f"{words[-1]}.{''.join(w[0] for w in words[:-1])}{_rng(seed).randint(1, 99)}" \
           "@thuchanh.invalid"


def address(seed):
    """A street address that is nobody's."""
    rng = _rng(f"address|{seed}")
    return f"Số {rng.randint(1, 199)} đường Thực Hành, phường {rng.randint(1, 9)}, Tuy Hòa"


def guardian(seed):
    """A parent's name, of the child's family name."""
    return f"{full_name(seed).split()[0]} {full_name(f'guardian|{seed}').split(' ', 1)[1]}"
