"""The NumPy physical-layer core, shared by every layer above the scenes.

- :mod:`airtwin.phy.ofdm`: subcarrier grid and the channel frequency response of ray-traced paths,
  with Doppler aging.
- :mod:`airtwin.phy.estimation`: pilot-noise CSI estimates (what a receiver and a policy see).
- :mod:`airtwin.phy.beams`: DFT codebooks, beam gains, eigen-precoders, SGCS, precoder <-> action.
- :mod:`airtwin.phy.link`: link budget (SNR, rate, spectral efficiency) and beam-sweep overhead.
- :mod:`airtwin.phy.metrics`: error statistics and the task metrics.
- :mod:`airtwin.phy.tasks`: the task table (inputs, targets, head, loss, metrics, env action).

Nothing here imports Sionna or torch.
"""
