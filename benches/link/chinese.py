"""Two registers of one city that disagree about people, written for the linkage benchmark by
this script alone (its own name tables and variants, not the sample city's generator):
dibao household heads and vehicle owners, some owners being heads written another way.

Variants of a true pair (each drawn on its own): the name in traditional characters, with a
homophone, with a space; the ID mistyped in one digit, two adjacent digits swapped, in its
15-digit form, or missing; the birth day and month swapped, or the birth date missing; the
address's house number changed or written in traditional characters. Decoys: namesakes born the
same year elsewhere, and relatives at a head's address (same surname, another given name).
"""

import csv
import random

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
)
# The most common surnames are far more common, as in life.
SURNAME_WEIGHTS = [30 if i < 5 else 10 if i < 20 else 3 for i in range(len(SURNAMES))]
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂文华建国志海燕春梅玉德凤金花淑珍荣红"
    "小永振晓东林宏斌鹏飞云辉波宁成坤峰丹萍鑫颖玲琳浩宇佳俊亮健涛彬慧"
)
TRAD = dict(zip(
    "张伟刘陈杨黄赵吴孙马罗郑谢许韩冯邓丽强军艳杰涛华国红兰凤东刚荣龙钱贺顾叶苏吕卢钟谭陆贾韦邹"
    "闫晓宏斌鹏飞云辉颖玲浩宇俊亮健慧宁坤丹",
    "張偉劉陳楊黃趙吳孫馬羅鄭謝許韓馮鄧麗強軍艷傑濤華國紅蘭鳳東剛榮龍錢賀顧葉蘇呂盧鍾譚陸賈韋鄒"
    "閆曉宏斌鵬飛雲輝穎玲浩宇俊亮健慧寧坤丹",
))
HOMOPHONE = dict(zip(
    "伟芳娜英静丽强军洋勇艳杰娟涛明霞平刚文华建志春梅玉兰德凤金淑珍荣红小永振东林宏斌鹏飞云辉"
    "波宁成坤峰丹萍颖玲琳浩宇佳俊亮健慧",
    "玮方纳瑛靖莉蔷君阳永燕洁鹃韬铭侠萍钢雯桦健智纯玫钰岚得枫锦舒真容虹晓勇镇冬琳鸿彬朋菲芸晖"
    "博凝诚堃锋单苹莹凌霖皓雨嘉骏靓建惠",
))
DISTRICTS = ["320102", "320104", "320105", "320106", "320111", "320113", "320114", "320115"]
TOWNS = ["汤山街道", "淳化街道", "横溪街道", "谷里街道", "湖熟街道", "禄口街道", "东山街道", "秣陵街道"]
VILLAGES = ["龙泉村", "青龙村", "东山村", "石塘村", "周岗村", "陶吴村", "新塘村", "上峰村", "东善桥村",
            "铜山村", "龙都村", "华阳村"]
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"


def check(first17):
    return CHECK[sum(int(d) * w for d, w in zip(first17, W)) % 11]


class City:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.ids = set()

    def name(self, surname=None):
        r = self.r
        s = surname or r.choices(SURNAMES, SURNAME_WEIGHTS)[0]
        return s + "".join(r.choice(GIVEN) for _ in range(r.choice([1, 2, 2])))

    def person(self, name=None, year=None, district=None):
        r = self.r
        while True:
            y = year or r.randint(1935, 1999)
            m, d = r.randint(1, 12), r.randint(1, 28)
            dist = district or r.choice(DISTRICTS)
            first17 = f"{dist}{y:04d}{m:02d}{d:02d}{r.randint(1, 995):03d}"
            pid = first17 + check(first17)
            if pid not in self.ids:
                self.ids.add(pid)
                return {"name": name or self.name(), "id": pid,
                        "birth": f"{y:04d}-{m:02d}-{d:02d}", "address": self.address()}

    def address(self):
        r = self.r
        return f"江宁区{r.choice(TOWNS)}{r.choice(VILLAGES)}{r.randint(1, 9)}组{r.randint(1, 80)}号"

    def variant(self, p):
        """How the vehicle register writes a head; and whether the ID is written as it is."""
        r = self.r
        name, pid, birth, addr = p["name"], p["id"], p["birth"], p["address"]
        if r.random() < 0.3:
            name = "".join(TRAD.get(c, c) for c in name)
        if r.random() < 0.25:
            chars = list(name)
            spots = [i for i in range(1, len(chars)) if chars[i] in HOMOPHONE]
            if spots:
                i = r.choice(spots)
                chars[i] = HOMOPHONE[chars[i]]
            name = "".join(chars)
        if r.random() < 0.05:
            name = name[0] + " " + name[1:]
        u = r.random()
        if u < 0.15:
            i = r.randint(14, 16)
            pid = pid[:i] + str((int(pid[i]) + r.randint(1, 9)) % 10) + pid[i + 1:]
        elif u < 0.20:
            i = r.randint(10, 15)
            if pid[i] != pid[i + 1]:
                pid = pid[:i] + pid[i + 1] + pid[i] + pid[i + 2:]
        elif u < 0.30 and pid[6:8] == "19":
            pid = pid[:6] + pid[8:17]
        elif u < 0.50:
            pid = ""
        y, m, d = birth.split("-")
        v = r.random()
        if v < 0.10 and int(d) <= 12 and d != m:
            birth = f"{y}-{d}-{m}"
        elif v < 0.15:
            birth = ""
        a = r.random()
        if a < 0.2:
            addr = addr.rsplit("组", 1)[0] + f"组{r.randint(1, 80)}号"
        elif a < 0.3:
            addr = addr.replace("东", "東").replace("号", "號").replace("龙", "龍")
        return {"name": name, "id": pid, "birth": birth, "address": addr}


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["rec_id", "name", "id_card", "birth_date", "address"])
        for row in rows:
            w.writerow([row["rec_id"], row["name"], row["id"], row["birth"], row["address"]])


def generate(work, heads=20000, owners=15000, true_pairs=3000, seed=2026):
    """Writes heads.csv and owners.csv; returns the true pairs and the share exact IDs find."""
    c = City(seed)
    a = []
    for i in range(heads):
        p = c.person()
        p["rec_id"] = f"H{i:06d}"
        a.append(p)
    b = []
    truth = set()
    exact = 0
    for p in c.r.sample(a, true_pairs):
        v = c.variant(p)
        v["rec_id"] = f"V{len(b):06d}"
        b.append(v)
        truth.add((p["rec_id"], v["rec_id"]))
        exact += v["id"] == p["id"]
    decoys = (owners - true_pairs) // 6
    for p in c.r.sample(a, decoys):
        # A namesake born the same year, elsewhere.
        q = c.person(name=p["name"], year=int(p["birth"][:4]))
        q["rec_id"] = f"V{len(b):06d}"
        b.append(q)
    for p in c.r.sample(a, decoys):
        # A relative at the head's address: same surname, another given name.
        q = c.person(name=c.name(surname=p["name"][0]), district=p["id"][:6])
        q["address"] = p["address"]
        q["rec_id"] = f"V{len(b):06d}"
        b.append(q)
    while len(b) < owners:
        q = c.person()
        q["rec_id"] = f"V{len(b):06d}"
        b.append(q)
    c.r.shuffle(b)
    write(work / "heads.csv", a)
    write(work / "owners.csv", b)
    return truth, exact / true_pairs
