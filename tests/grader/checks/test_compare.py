"""Does the comparison catch real differences at every scale, and report them readably?"""

from __future__ import annotations

import numpy as np

from grader.checks.compare import TOLERANCES, compare_arrays
from grader.isolation.protocol import Unsupported

TOL = TOLERANCES["chain_rule"]


def test_equal_values_pass():
    """Do values equal up to rounding pass?"""
    expected = np.array([1.0, -2.0, 3e-13])
    assert compare_arrays(expected * (1 + 1e-12), expected, TOL).ok


def test_tiny_gradient_off_by_factor_two_fails():
    """Does a gradient of 1e-13 that is off by a factor of 2 fail, as an absolute tolerance would not?"""
    expected = np.array([0.5, 1e-13])
    received = np.array([0.5, 2e-13])
    comparison = compare_arrays(received, expected, TOL, label="dL_dw")
    assert not comparison.ok
    assert comparison.report == "1 of 2 values differ; the largest is off by 1e-13, 1× relative."
    assert "Mismatched elements: 1 / 2" in comparison.numpy
    assert "Max relative difference" in comparison.numpy


def test_differences_are_described_in_plain_words():
    """Does the student read how many values differ and by how much, without numpy's jargon?"""
    expected = np.array([0.1, 0.2, 0.3, -0.4, 0.5, 0.6])
    comparison = compare_arrays(expected * 5, expected, TOL)
    assert comparison.report == "6 of 6 values differ; the largest is off by 2.4, 4× relative."
    assert "tolerance" not in comparison.report and "violations" not in comparison.report
    one = compare_arrays(np.array(1.0), np.array(np.sqrt(2)), TOL)
    assert one.report == "The value is off by 0.41, 29% relative."
    zero = compare_arrays(np.array([0.5, 0.0]), np.array([0.0, 0.0]), TOL)
    assert zero.report == "1 of 2 values differ; the largest is off by 0.5 where 0 was expected."


def test_cancellation_scale_allows_rounding_in_cancelled_sums():
    """Does a per-element scale let a cancelled sum differ by rounding of its large terms?"""
    expected = np.array([1e-17])
    received = np.array([3e-17])
    assert not compare_arrays(received, expected, TOL).ok
    assert compare_arrays(received, expected, TOL, scale=np.array([1.0])).ok


def test_shape_mismatch_is_named():
    """Is a wrong shape reported as such, not as a value difference?"""
    comparison = compare_arrays(np.zeros((3, 1)), np.zeros(3), TOL)
    assert not comparison.ok
    assert "expected shape (3,), received shape (3, 1)" in comparison.report


def test_nan_where_finite_expected_fails():
    """Is NaN reported where finite values were expected?"""
    comparison = compare_arrays(np.array([1.0, np.nan]), np.array([1.0, 2.0]), TOL)
    assert not comparison.ok and "NaN or infinite" in comparison.report


def test_non_numeric_results_fail_with_their_type():
    """Does a string or an unsupported object fail with its type named?"""
    assert "a str" in compare_arrays("0.5", np.array(0.5), TOL).report
    assert "object of type" in compare_arrays(Unsupported("foo.Bar"), np.array(0.5), TOL).report
