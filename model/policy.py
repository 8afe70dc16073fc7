"""The universal model acting in an AirTwin environment (it lives above ``envs``: it needs both)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from airtwin.envs.policies import current_task, task_action, task_space
from airtwin.model.numerology import predict_on_site, site_adapter
from airtwin.phy.prediction import has_previous_pilot
from airtwin.phy.tasks import OBSERVATION_KEYS, PILOT_KEYS, TASKS, observe


def _loaded(checkpoint, device: str):
    """A checkpoint directory loaded on ``device``, or an already loaded model, in eval mode."""
    from airtwin.model.checkpoint import load_checkpoint

    if hasattr(checkpoint, "predict"):  # the caller's model: evaluated as it is, never merged
        return checkpoint.eval()
    return load_checkpoint(checkpoint, device=device).for_inference()


class UniversalModelPolicy:
    """The universal model reading only the observation, which is exactly its input.

    Beam selection from the environment fields; the precoder and the position from the observed
    (estimated) CSI; the model predicts the position relative to the serving BS. A scenario of another
    numerology (array, subcarriers, subbands, codebook, map cells) is served through
    :class:`airtwin.model.numerology.NumerologyAdapter`.

    Args:
        env: the environment (for the serving BS and the multi-task action layout).
        checkpoint: a checkpoint directory (``airtwin train`` output), or a loaded ``UniversalModel``.
        device: where a checkpoint directory is loaded: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', ...
    """

    def __init__(self, env, checkpoint, device: str = "auto"):
        self.env = env
        self.model = _loaded(checkpoint, device)
        self.adapter = site_adapter(self.model, env.unwrapped.twin.spec, env.unwrapped.twin.serving_bs)

    def reset(self) -> None:
        pass

    def act(self, obs: Any) -> Any:
        task = TASKS[current_task(self.env)]
        keys = OBSERVATION_KEYS[task.modality]
        if task.pilot_input and has_previous_pilot(obs):
            keys = keys + PILOT_KEYS
        batch = {k: np.asarray(obs[k])[None] for k in keys}
        out = predict_on_site(self.model, self.adapter, task.name, batch)[0]
        action = task.to_action(out, self.env.unwrapped.twin.bs_position)
        space = task_space(self.env, task.name)
        if isinstance(space, spaces.Box):
            action = np.clip(action, space.low, space.high).astype(space.dtype)
        return task_action(self.env, action)


class UniversalCellPolicy:
    """The universal model managing the serving cell and beam in ``AirTwin/CellBeamManagement-v0``, per site.

    For every site it builds the environment observation the model was trained on (that site's height map
    and position, the UE's position) and asks two heads: path loss (the site to serve: the lowest predicted
    loss, kept unless another site is predicted ``hysteresis_db`` better) and beam selection (that site's
    beam). The height maps are the network's static knowledge of the area, not the true channel.

    Args:
        env: the cell environment (sites of another numerology than the model's are adapted).
        checkpoint: a checkpoint directory, or a loaded ``UniversalModel``.
        hysteresis_db: predicted path-loss margin a handover needs [dB].
        device: where a checkpoint directory is loaded ('auto', 'cpu', 'cuda', ...).
    """

    def __init__(self, env, checkpoint, hysteresis_db: float = 2.0, device: str = "auto"):
        self.env, self.hysteresis_db = env, hysteresis_db
        self.model = _loaded(checkpoint, device)
        twin = env.unwrapped.twin
        n = len(twin.spec.bs)
        self.adapters = [site_adapter(self.model, twin.spec, i) for i in range(n)]
        self.env_fields = {"height_map": np.stack([twin.height_map_of(i) for i in range(n)]),
                           "map_range_m": np.array([twin.map_range_of(i) for i in range(n)]),
                           "bs_position": np.array([b.position for b in twin.spec.bs]),
                           "bs_orientation_deg": np.array([b.orientation_deg for b in twin.spec.bs])}

    def reset(self) -> None:
        pass

    def scores(self, ue_position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(predicted path loss [num_bs] dB, beam logits [num_bs, num_beams])`` for a UE at ``ue_position``."""
        n = len(self.env_fields["bs_position"])
        fields = {**self.env_fields, "ue_position": np.repeat(np.asarray(ue_position, np.float32)[None], n, axis=0)}
        batch = observe("env", fields, self.model.cfg.pilot_snr_db, np.random.default_rng(0))
        if all(a is None for a in self.adapters):  # one batch over the sites
            return (predict_on_site(self.model, None, "path_loss", batch).reshape(n),
                    predict_on_site(self.model, None, "beam_selection", batch))
        rows = [{k: v[i:i + 1] for k, v in batch.items()} for i in range(n)]
        pl = np.concatenate([predict_on_site(self.model, a, "path_loss", r).reshape(1) for a, r in zip(self.adapters, rows)])
        logits = np.concatenate([predict_on_site(self.model, a, "beam_selection", r) for a, r in zip(self.adapters, rows)])
        return pl, logits

    def act(self, obs: Any) -> np.ndarray:
        pl, logits = self.scores(obs["ue_position"])
        serving = int(obs["serving"])
        best = int(np.argmin(pl))
        site = best if pl[best] < pl[serving] - self.hysteresis_db else serving
        return np.array([site, int(np.argmax(logits[site]))], dtype=np.int64)


class UniversalMultiUserPolicy:
    """The universal model precoding for several users in ``AirTwin/MultiUserPrecoding-v0``, per user.

    Each UE's CSI observation goes through the precoding head (a batch of ``num_users``), which gives that
    UE's precoder per subband. ``combine="mrt"`` uses them as the matrix's columns with equal power;
    ``combine="zf"`` treats them as the users' channel directions (``h_u`` along ``conj(w_u)``) and
    zero-forces between them (:func:`airtwin.phy.multiuser.mu_precoders`).

    Args:
        env: the multi-user environment (a serving site of another numerology is adapted).
        checkpoint: a checkpoint directory, or a loaded ``UniversalModel``.
        combine: ``"mrt"`` or ``"zf"``.
        device: where a checkpoint directory is loaded ('auto', 'cpu', 'cuda', ...).
    """

    def __init__(self, env, checkpoint, combine: str = "zf", device: str = "auto"):
        if combine not in ("mrt", "zf"):
            raise ValueError(f"combine = {combine!r}; allowed: 'mrt', 'zf'")
        self.env, self.combine = env, combine
        self.model = _loaded(checkpoint, device)
        self.adapter = site_adapter(self.model, env.unwrapped.twin.spec, env.unwrapped.twin.serving_bs)

    def reset(self) -> None:
        pass

    def precoders(self, obs: Any) -> np.ndarray:
        """``[U, S, A]`` complex: the model's precoder of each UE."""
        batch = {"csi": np.asarray(obs["csi"], np.float32), "rx_power_db": np.asarray(obs["rx_power_db"], np.float32)[:, None]}
        return predict_on_site(self.model, self.adapter, "precoding", batch).astype(np.complex128)

    def act(self, obs: Any) -> np.ndarray:
        from airtwin.envs.multicell import precoders_to_matrix_action
        from airtwin.phy.multiuser import equal_power, mu_precoders

        w = self.precoders(obs)  # [U, S, A]
        if self.combine == "mrt":
            matrix = equal_power(np.transpose(w, (1, 2, 0)))  # [S, A, U]
        else:
            matrix = mu_precoders(np.conj(np.swapaxes(w, 0, 1)), "zf")  # directions [S, U, A] -> [S, A, U]
        return precoders_to_matrix_action(matrix)
