import numpy as np

from components.common import pareto


def test_front_hypervolume_and_contributions_on_a_known_set():
    points = np.array([[0.5, 0.5], [0.8, 0.2], [0.2, 0.8], [0.4, 0.4]])
    assert pareto.front_mask(points).tolist() == [True, True, True, False]
    # union of [0,.5]^2, [0,.8]x[0,.2], [0,.2]x[0,.8] = .25 + 2 * (.3 * .2) = .37
    assert np.isclose(pareto.hypervolume(points, np.zeros(2)), 0.37)
    assert np.allclose(pareto.contributions(points, np.zeros(2)), [0.09, 0.06, 0.06, 0.0])


def test_points_not_beyond_the_reference_add_nothing():
    points = np.array([[0.5, 0.5], [0.9, -0.1]])
    assert np.isclose(pareto.hypervolume(points, np.zeros(2)), 0.25)
    assert pareto.hypervolume(np.array([[-1.0, -1.0]]), np.zeros(2)) == 0.0


def test_four_objectives():
    points = np.eye(4) * 0.5 + 0.25
    assert pareto.front_mask(points).all()
    assert pareto.hypervolume(points, np.zeros(4)) > 0.25**4


def test_normalisation_puts_the_start_policy_at_0_and_a_declared_ideal_or_scale_at_1():
    norm = pareto.normalisation(["a", "b", "c"], [0.4, 0.5, 0.9], {"b": 0.7}, {"c": 0.05})
    points = [[0.4, 0.5, 0.9], [1.0, 0.7, 0.95], [0.7, 0.6, 1.0]]
    # a: the scorer's range (1) by default; b: the way from the start to the ideal; c: the declared scale
    assert np.allclose(norm.apply(points), [[0, 0, 0], [0.6, 1, 1], [0.3, 0.5, 2]])
    assert norm.declared() == {"a": "range 1", "b": "ideal 0.7", "c": "scale 0.05"}
    assert np.array_equal(norm.reference, np.zeros(3))
    # the volume over the start policy: 0.3 x 0.5 x 2
    assert np.isclose(pareto.hypervolume(norm.apply([[0.7, 0.6, 1.0]]), norm.reference), 0.3)
    said = norm.describe()
    assert said.startswith("reference: the start policy (0 in every objective); per objective (score - start) / scale")
    assert "a start 0.4, 1 = range 1 (scale 1)" in said and "b start 0.5, 1 = ideal 0.7 (scale 0.2)" in said
    assert norm.caption().endswith("1 = a range 1, b ideal 0.7, c scale 0.05")


def test_an_objective_already_at_the_top_of_its_range_still_has_an_axis():
    norm = pareto.normalisation(["a", "b"], [1.0, 0.5], {}, {})
    assert np.allclose(norm.apply([[0.8, 0.7]]), [[-0.2, 0.2]])


def test_an_ideal_the_start_policy_already_reaches_is_refused_with_what_to_declare():
    import pytest

    with pytest.raises(ValueError, match=r"b \(start 0.8, ideal 0.7\).*evaluate.normalisation.ideal"):
        pareto.normalisation(["a", "b"], [0.4, 0.8], {"b": 0.7}, {})
