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
