"""Reference data: Indian cities with their states, catalogue categories, brands, browsers."""

from __future__ import annotations

# (city, state, relative weight): metros bigger.
CITIES: list[tuple[str, str, float]] = [
    ("Mumbai", "Maharashtra", 10.0),
    ("Delhi", "Delhi", 10.0),
    ("Bengaluru", "Karnataka", 9.0),
    ("Hyderabad", "Telangana", 7.0),
    ("Chennai", "Tamil Nadu", 6.5),
    ("Kolkata", "West Bengal", 6.5),
    ("Pune", "Maharashtra", 5.0),
    ("Ahmedabad", "Gujarat", 4.5),
    ("Gurugram", "Haryana", 3.0),
    ("Noida", "Uttar Pradesh", 2.8),
    ("Jaipur", "Rajasthan", 2.5),
    ("Surat", "Gujarat", 2.2),
    ("Lucknow", "Uttar Pradesh", 2.0),
    ("Kanpur", "Uttar Pradesh", 1.2),
    ("Nagpur", "Maharashtra", 1.4),
    ("Indore", "Madhya Pradesh", 1.5),
    ("Bhopal", "Madhya Pradesh", 1.1),
    ("Thane", "Maharashtra", 1.8),
    ("Visakhapatnam", "Andhra Pradesh", 1.1),
    ("Vadodara", "Gujarat", 1.0),
    ("Patna", "Bihar", 1.0),
    ("Ludhiana", "Punjab", 0.9),
    ("Chandigarh", "Chandigarh", 1.0),
    ("Kochi", "Kerala", 1.1),
    ("Thiruvananthapuram", "Kerala", 0.8),
    ("Coimbatore", "Tamil Nadu", 1.0),
    ("Madurai", "Tamil Nadu", 0.7),
    ("Mysuru", "Karnataka", 0.7),
    ("Mangaluru", "Karnataka", 0.5),
    ("Bhubaneswar", "Odisha", 0.8),
    ("Guwahati", "Assam", 0.8),
    ("Dehradun", "Uttarakhand", 0.6),
    ("Ranchi", "Jharkhand", 0.6),
    ("Raipur", "Chhattisgarh", 0.6),
    ("Nashik", "Maharashtra", 0.7),
    ("Vijayawada", "Andhra Pradesh", 0.6),
    ("Amritsar", "Punjab", 0.5),
    ("Jodhpur", "Rajasthan", 0.5),
    ("Varanasi", "Uttar Pradesh", 0.6),
    ("Agra", "Uttar Pradesh", 0.5),
    ("Goa", "Goa", 0.4),
    ("Srinagar", "Jammu and Kashmir", 0.3),
]

# category -> (subcategories, brands, typical list price in rupees, margin range of cost/list)
CATEGORIES: dict[str, tuple[list[str], list[str], float]] = {
    "Electronics": (
        ["Smartphones", "Laptops", "Headphones", "Smartwatches", "Tablets", "Chargers"],
        ["Samsung", "Xiaomi", "OnePlus", "boAt", "Realme", "Lenovo", "HP", "Noise"],
        9000.0,
    ),
    "Fashion": (
        ["Kurtas", "Sarees", "Jeans", "T-Shirts", "Footwear", "Ethnic Wear"],
        ["FabIndia", "Biba", "Manyavar", "Levi's", "Bata", "Libas", "W"],
        1200.0,
    ),
    "Home & Kitchen": (
        ["Cookware", "Pressure Cookers", "Bedsheets", "Storage", "Mixer Grinders"],
        ["Prestige", "Hawkins", "Pigeon", "Bajaj", "Milton", "Butterfly"],
        1800.0,
    ),
    "Beauty & Personal Care": (
        ["Skincare", "Haircare", "Fragrances", "Makeup"],
        ["Himalaya", "Lakme", "Mamaearth", "Biotique", "Nykaa"],
        450.0,
    ),
    "Grocery & Gourmet": (
        ["Tea & Coffee", "Dry Fruits", "Spices", "Snacks"],
        ["Tata", "Haldiram's", "MDH", "Everest", "Aashirvaad"],
        300.0,
    ),
    "Books & Stationery": (
        ["Fiction", "Exam Prep", "Notebooks", "Children's Books"],
        ["Penguin", "Arihant", "Classmate", "Rupa"],
        350.0,
    ),
    "Sports & Fitness": (
        ["Cricket", "Yoga", "Cycling", "Gym Equipment"],
        ["SG", "Nivaco", "Decathlon", "Cosco", "Hero"],
        1500.0,
    ),
    "Toys & Baby": (
        ["Toys", "Baby Care", "School Bags"],
        ["Funskool", "Himalaya Baby", "Skybags", "Hamleys"],
        700.0,
    ),
}

DEVICES = ["mobile", "desktop", "tablet"]
DEVICE_WEIGHTS = [0.68, 0.25, 0.07]
# browser choices and weights per device
BROWSERS: dict[str, tuple[list[str], list[float]]] = {
    "mobile": (
        ["Chrome", "Safari", "Samsung Internet", "Firefox", "VyaparBazaar App"],
        [0.46, 0.14, 0.08, 0.02, 0.30],
    ),
    "desktop": (["Chrome", "Edge", "Firefox", "Safari"], [0.64, 0.16, 0.10, 0.10]),
    "tablet": (["Safari", "Chrome", "Samsung Internet"], [0.45, 0.45, 0.10]),
}

PAYMENT_METHODS = ["upi", "credit_card", "debit_card", "cod", "wallet", "net_banking"]
PAYMENT_WEIGHTS = [0.46, 0.17, 0.12, 0.13, 0.07, 0.05]

CAMPAIGN_THEMES = [
    "Republic Day Sale",
    "Holi Dhamaka",
    "Summer Savings",
    "Monsoon Mania",
    "Back to School",
    "Independence Day Sale",
    "Ganesh Utsav Offers",
    "Navratri Fest",
    "Big Diwali Sale",
    "Dhanteras Deals",
    "Wedding Season Specials",
    "Year End Clearance",
    "New Arrivals",
    "Win Back",
    "Welcome Offer",
    "Payday Deals",
]
CHANNELS = ["email", "sms", "push", "social", "search"]
CHANNEL_WEIGHTS = [0.35, 0.15, 0.15, 0.20, 0.15]
SEGMENTS = ["all_customers", "new_customers", "high_value", "lapsed", "app_users", "festival_shoppers"]
