"""The commons from Python: search, read remote HDF5 lazily, download with progress.

    from pancommons.client import Commons
    commons = Commons("https://data.facility.eu", token=None)
    found = commons.datasets(technique="x-ray diffraction", wavelength=(0.9, 1.1, "angstrom"),
                             temperature_below=(100, "K"), text="lysozyme")
    for dataset in found:                       # read page by page as you go
        print(dataset.pid, dataset.title)
    f = found[0].files[0].open()                 # nothing downloaded
    frame = f["/entry/data/data"][10, :, :]      # only this slice travels
    found[0].files[0].download("data/")          # resumable, checksum verified

This package needs only httpx, NumPy and rich (and pandas for ``to_pandas``);
it imports nothing of the server.
"""

from pancommons.client.commons import Commons
from pancommons.client.errors import (
    BadFilter,
    ChecksumMismatch,
    CommonsError,
    DownloadInterrupted,
    LocalCopyDiffers,
    NotAllowed,
    NotFound,
    PartialAnswer,
    ProviderUnavailable,
    UnverifiedDownload,
)
from pancommons.client.hdf5 import Plot, RemoteDataset, RemoteFile, RemoteGroup
from pancommons.client.query import dataset_filter
from pancommons.client.records import Dataset, Document, File, Instrument, Results

__all__ = [
    "BadFilter", "ChecksumMismatch", "Commons", "CommonsError", "Dataset", "Document", "DownloadInterrupted", "File",
    "Instrument", "LocalCopyDiffers", "NotAllowed", "NotFound", "PartialAnswer", "Plot", "ProviderUnavailable",
    "RemoteDataset", "RemoteFile", "RemoteGroup", "Results", "UnverifiedDownload", "dataset_filter",
]
