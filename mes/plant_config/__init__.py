"""The plant's configuration (config/): schema, loading and validation."""
from mes.plant_config.loader import LoadedLine, PlantConfig, PlantConfigError, load_plant_config
from mes.plant_config.schema import PACKML_CODES, PACKML_STATES, LineFile, PlantFile

__all__ = [
           "PACKML_CODES",
           "PACKML_STATES",
           "LineFile",
           "LoadedLine",
           "PlantConfig",
           "PlantConfigError",
           "PlantFile",
           "load_plant_config",
]
