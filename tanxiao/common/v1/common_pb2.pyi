from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_SOURCE_UNSPECIFIED: _ClassVar[DataSource]
    GRID_UTILITY: _ClassVar[DataSource]
    GAS_UTILITY: _ClassVar[DataSource]
    STATISTICS: _ClassVar[DataSource]
    TAX: _ClassVar[DataSource]
    SELF_REPORTED: _ClassVar[DataSource]
    THIRD_PARTY_VERIFIED: _ClassVar[DataSource]

class CarbonLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CARBON_LEVEL_UNSPECIFIED: _ClassVar[CarbonLevel]
    LOW_CARBON: _ClassVar[CarbonLevel]
    MEDIUM_CARBON: _ClassVar[CarbonLevel]
    HIGH_CARBON: _ClassVar[CarbonLevel]

class RegionLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REGION_LEVEL_UNSPECIFIED: _ClassVar[RegionLevel]
    COUNTY: _ClassVar[RegionLevel]
    CITY: _ClassVar[RegionLevel]
    PROVINCE: _ClassVar[RegionLevel]

class TrendDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TREND_DIRECTION_UNSPECIFIED: _ClassVar[TrendDirection]
    IMPROVING: _ClassVar[TrendDirection]
    STABLE: _ClassVar[TrendDirection]
    WORSENING: _ClassVar[TrendDirection]
    INSUFFICIENT_DATA: _ClassVar[TrendDirection]
DATA_SOURCE_UNSPECIFIED: DataSource
GRID_UTILITY: DataSource
GAS_UTILITY: DataSource
STATISTICS: DataSource
TAX: DataSource
SELF_REPORTED: DataSource
THIRD_PARTY_VERIFIED: DataSource
CARBON_LEVEL_UNSPECIFIED: CarbonLevel
LOW_CARBON: CarbonLevel
MEDIUM_CARBON: CarbonLevel
HIGH_CARBON: CarbonLevel
REGION_LEVEL_UNSPECIFIED: RegionLevel
COUNTY: RegionLevel
CITY: RegionLevel
PROVINCE: RegionLevel
TREND_DIRECTION_UNSPECIFIED: TrendDirection
IMPROVING: TrendDirection
STABLE: TrendDirection
WORSENING: TrendDirection
INSUFFICIENT_DATA: TrendDirection

class CarbonGrade(_message.Message):
    __slots__ = ("grade", "level", "label_zh", "label_en", "colour", "grading_method")
    GRADE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    COLOUR_FIELD_NUMBER: _ClassVar[int]
    GRADING_METHOD_FIELD_NUMBER: _ClassVar[int]
    grade: int
    level: CarbonLevel
    label_zh: str
    label_en: str
    colour: str
    grading_method: str
    def __init__(self, grade: _Optional[int] = ..., level: _Optional[_Union[CarbonLevel, str]] = ..., label_zh: _Optional[str] = ..., label_en: _Optional[str] = ..., colour: _Optional[str] = ..., grading_method: _Optional[str] = ...) -> None: ...
