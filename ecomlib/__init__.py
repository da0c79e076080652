"""ecomlib: the library behind the ecom-analytics notebooks.

Modules: :mod:`ecomlib.config`, :mod:`ecomlib.data`, :mod:`ecomlib.eda`, :mod:`ecomlib.train`,
:mod:`ecomlib.plots`, :mod:`ecomlib.report`, and the task packages ``forecast``, ``vision``,
``text`` and ``recommend``.
"""

__version__ = "0.1.0"
