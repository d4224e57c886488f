"""onboard90: the 90-day onboarding plan (入网导入期服务方案) of a mobile operator, made to happen."""

__version__ = "0.1.0"
