"""Deterministic generator of the e-commerce example's data (examples/ecommerce/data/*.csv).

    python examples/ecommerce/generate.py [--out DIR] [--seed N] [--customers N] [--transactions N]

Customers, products in categories, and transactions with realistic skew: product popularity follows
a Zipf law (a few bestsellers, a long tail), customers are Zipf-active too, and every customer has one
or two favourite categories that most of their purchases come from. So the globally most popular
products are a fair guess (the popularity baseline) but a personalised model can do better.
The same seed always writes the same bytes; the committed files were written with the defaults.
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

CATEGORIES = ["books", "electronics", "garden", "kitchen", "sports", "toys", "beauty", "fashion"]
FIRST = ["anna", "ben", "carla", "dmitri", "eva", "felix", "greta", "hugo", "ines", "jonas", "kim", "lena"]
LAST = ["meyer", "schmidt", "novak", "rossi", "garcia", "dubois", "jansen", "silva", "kowalski", "berg"]
CITIES = [
    ("Berlin", "DE"),
    ("Hamburg", "DE"),
    ("Paris", "FR"),
    ("Lyon", "FR"),
    ("Madrid", "ES"),
    ("Rome", "IT"),
]
CHANNELS = ["web", "app", "store"]
START = datetime(2026, 9, 1)
DAYS = 60


def zipf_weights(n: int, exponent: float) -> list[float]:
    return [1.0 / (rank**exponent) for rank in range(1, n + 1)]


def generate(out: Path, *, seed: int, customers: int, products: int, transactions: int) -> None:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)

    # products: each category's items in a random order of popularity; a global Zipf over all items
    product_rows = []
    for product_id in range(1, products + 1):
        category = CATEGORIES[(product_id - 1) % len(CATEGORIES)]
        price = round(rng.uniform(3, 250), 2)
        product_rows.append((product_id, f"{category}-item-{product_id:04d}", category, price))
    popularity_order = list(range(1, products + 1))
    rng.shuffle(popularity_order)
    popularity = dict(zip(popularity_order, zipf_weights(products, 1.0), strict=True))
    by_category = {c: [p for p in product_rows if p[2] == c] for c in CATEGORIES}

    customer_rows = []
    favourites: dict[int, list[str]] = {}
    for customer_id in range(1, customers + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country = rng.choice(CITIES)
        signup = (START - timedelta(days=rng.randint(30, 900))).date().isoformat()
        email = f"{first}.{last}{customer_id}@example.com"
        phone = f"+49 30 {rng.randint(1000000, 9999999)}"
        customer_rows.append(
            (customer_id, f"{first.title()} {last.title()}", email, phone, city, country, signup)
        )
        favourites[customer_id] = rng.sample(CATEGORIES, rng.choice((1, 2)))

    activity = zipf_weights(customers, 0.6)
    customer_ids = list(range(1, customers + 1))
    rng.shuffle(customer_ids)  # the most active customers are not the lowest ids
    transaction_rows = []
    for transaction_id in range(1, transactions + 1):
        customer_id = rng.choices(customer_ids, weights=activity)[0]
        if rng.random() < 0.85:  # most purchases from a favourite category, by popularity inside it
            pool = by_category[rng.choice(favourites[customer_id])]
        else:
            pool = product_rows
        product = rng.choices(pool, weights=[popularity[p[0]] for p in pool])[0]
        quantity = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        when = START + timedelta(seconds=rng.randint(0, DAYS * 86400 - 1))
        transaction_rows.append(
            (
                transaction_id,
                customer_id,
                product[0],
                quantity,
                product[3],
                round(quantity * product[3], 2),
                when.strftime("%Y-%m-%d %H:%M:%S"),
                rng.choice(CHANNELS),
            )
        )
    transaction_rows.sort(key=lambda row: (row[6], row[0]))

    _write(
        out / "customers.csv",
        ("customer_id", "name", "email", "phone", "city", "country", "signup_date"),
        customer_rows,
    )
    _write(out / "products.csv", ("product_id", "title", "category", "price"), product_rows)
    _write(
        out / "transactions.csv",
        ("transaction_id", "customer_id", "product_id", "quantity", "unit_price", "amount", "ts", "channel"),
        transaction_rows,
    )


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--products", type=int, default=160)
    parser.add_argument("--transactions", type=int, default=12000)
    args = parser.parse_args()
    generate(
        args.out,
        seed=args.seed,
        customers=args.customers,
        products=args.products,
        transactions=args.transactions,
    )


if __name__ == "__main__":
    main()
