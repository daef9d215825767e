"""Chest X-ray data: one module per source (folder, CSV, DICOM, MedMNIST) and shared transforms.

Every loader decodes its images up front into an `ImageSet` (uint8 grayscale, one size), so a
corrupt file is found and reported at load time, never mid-epoch.
"""
