import pytest
from django.contrib.auth import get_user_model

from devices.drivers.sim import reset_sim_device
from devices.services import device_register_sim


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("carol")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("dave")


@pytest.fixture
def device(db, settings, tmp_path):
    settings.SIM_DEVICE_DIR = tmp_path
    reset_sim_device("unit-1", tmp_path)
    return device_register_sim(serial="unit-1")


@pytest.fixture
def second_device(db, settings):
    reset_sim_device("unit-2", settings.SIM_DEVICE_DIR)
    return device_register_sim(serial="unit-2")
