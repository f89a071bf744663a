# ruff: noqa: E501  (a data table: one product family per line reads better than the formatter's layout)
"""The shape of TechStore's catalogue: a category tree, and per leaf category the brands, price and
weight ranges and attribute choices seeded products are drawn from. Data only; the benchmark reads it
too, to build filters and search terms that hit real rows."""

from __future__ import annotations

from dataclasses import dataclass, field

COLORS = ("black", "white", "silver", "grey", "blue", "red", "green", "gold")
DARK_COLORS = ("black", "grey", "silver", "white")


@dataclass(frozen=True)
class Leaf:
    """A category products are seeded into. `title` is formatted with the drawn attributes.

    `price_driver` names the attribute whose bigger options cost more (e.g. storage_gb), so a 2 TB
    laptop is dearer than a 256 GB one of the same range.
    """

    name: str
    code: str
    brands: dict[str, tuple[str, ...]]
    price: tuple[int, int]
    weight: tuple[int, int]
    attrs: dict[str, tuple] = field(default_factory=dict)
    title: str = ""
    price_driver: str | None = None
    colors: tuple[str, ...] = COLORS
    share: int = 10
    blurb: str = ""
    brand_attrs: dict[str, dict[str, tuple]] = field(default_factory=dict)


LAPTOP_BRANDS = {
    "Lenovo": ("ThinkPad X1", "ThinkPad T14", "IdeaPad Slim 5", "Yoga 7", "Legion 5"),
    "Dell": ("XPS 13", "XPS 15", "Latitude 7440", "Inspiron 14", "Alienware m16"),
    "HP": ("Spectre x360", "EliteBook 840", "Pavilion 15", "Omen 16", "ProBook 450"),
    "Apple": ("MacBook Air", "MacBook Pro"),
    "ASUS": ("Zenbook 14", "ROG Zephyrus G14", "Vivobook 15", "TUF Gaming A15"),
    "Acer": ("Swift Go 14", "Aspire 5", "Nitro V 15", "Predator Helios 16"),
    "MSI": ("Prestige 14", "Katana 15", "Stealth 16"),
}
LAPTOP_CPUS = ("Intel Core i5", "Intel Core i7", "Intel Core Ultra 7", "AMD Ryzen 5", "AMD Ryzen 7")
APPLE_LAPTOP = {"cpu": ("Apple M3", "Apple M3 Pro", "Apple M4"), "os": ("macOS",)}
PHONE_BRANDS = {
    "Apple": ("iPhone 15", "iPhone 15 Pro", "iPhone 16", "iPhone 16 Pro Max"),
    "Samsung": ("Galaxy S24", "Galaxy S24 Ultra", "Galaxy A55", "Galaxy Z Flip6"),
    "Google": ("Pixel 8", "Pixel 8a", "Pixel 9 Pro"),
    "Xiaomi": ("Redmi Note 13", "Xiaomi 14T", "Poco X6"),
    "OnePlus": ("OnePlus 12", "OnePlus Nord 4"),
    "Fairphone": ("Fairphone 5",),
    "Motorola": ("Edge 50", "Moto G84"),
}
TV_BRANDS = {
    "LG": ("C4", "G4", "QNED85", "UR78"),
    "Samsung": ("S90D", "QN90D", "Q60D", "CU7100"),
    "Sony": ("Bravia 8", "Bravia 7", "X85L"),
    "Philips": ("OLED809 Ambilight", "PUS8909 Ambilight"),
    "TCL": ("C805", "P755"),
    "Hisense": ("U8N", "A6N"),
}
HEADPHONE_BRANDS = {
    "Sony": ("WH-1000XM5", "ULT Wear", "WH-CH720N"),
    "Bose": ("QuietComfort Ultra", "QuietComfort 45"),
    "JBL": ("Tune 770NC", "Live 670NC"),
    "Sennheiser": ("Momentum 4", "Accentum Plus"),
    "Apple": ("AirPods Max",),
    "Marshall": ("Major V", "Monitor III"),
    "Jabra": ("Evolve2 65",),
}
EARBUD_BRANDS = {
    "Sony": ("WF-1000XM5", "WF-C700N"),
    "Bose": ("QuietComfort Earbuds", "QuietComfort Ultra Earbuds"),
    "JBL": ("Live Pro 2", "Tune Beam"),
    "Sennheiser": ("Momentum True Wireless 4", "CX Plus"),
    "Apple": ("AirPods Pro 2", "AirPods 4"),
    "Jabra": ("Elite 10", "Elite 8 Active"),
    "Marshall": ("Motif II",),
}
SPEAKER_BRANDS = {
    "Sony": ("SRS-XB100", "ULT Field 1"),
    "Bose": ("SoundLink Flex", "SoundLink Max"),
    "JBL": ("Flip 6", "Charge 5", "Clip 5"),
    "Marshall": ("Emberton II", "Willen II"),
    "Ultimate Ears": ("Boom 4", "Wonderboom 4"),
}
CHARGER_BRANDS = {
    "Anker": ("Nano", "Prime"),
    "Belkin": ("BoostCharge Pro",),
    "Ugreen": ("Nexode",),
    "Samsung": ("Super Fast",),
    "Apple": ("USB-C Power Adapter",),
}
CABLE_BRANDS = {
    "Anker": ("PowerLine III", "PowerLine+"),
    "Belkin": ("Connect", "BoostCharge"),
    "Ugreen": ("Uno",),
    "Apple": ("Woven",),
    "Amazon Basics": ("Braided",),
}
CASE_BRANDS = {
    "Spigen": ("Ultra Hybrid", "Tough Armor", "Liquid Air"),
    "OtterBox": ("Defender", "Symmetry"),
    "Apple": ("Silicone Case", "FineWoven Case"),
    "Samsung": ("Clear Case", "Silicone Case"),
}
POWER_BANK_BRANDS = {
    "Anker": ("PowerCore", "Prime"),
    "Ugreen": ("Nexode",),
    "Belkin": ("BoostCharge",),
    "Xiaomi": ("Redmi",),
}
USB = ("USB-C", "USB-A", "Lightning", "HDMI", "DisplayPort")

# (parent category, its leaves). Slugs come from the names.
CATEGORY_TREE: tuple[tuple[str, tuple[Leaf, ...]], ...] = (
    ("Laptops", (
        Leaf("Ultrabooks", "ULB", LAPTOP_BRANDS, (749, 2899), (980, 1650),
             {"cpu": LAPTOP_CPUS, "ram_gb": (8, 16, 32), "storage_gb": (256, 512, 1024, 2048),
              "screen_inches": (13.3, 14.0, 15.3), "os": ("Windows 11 Home", "Windows 11 Pro")},
             '{screen_inches}" {cpu} {ram_gb}GB {storage_gb}GB SSD', "storage_gb", DARK_COLORS, 14,
             "Thin, light and quiet: a laptop for the train and the café.", {"Apple": APPLE_LAPTOP}),
        Leaf("Gaming Laptops", "GML", LAPTOP_BRANDS, (999, 3999), (2100, 3200),
             {"cpu": LAPTOP_CPUS, "gpu": ("RTX 4050", "RTX 4060", "RTX 4070", "RTX 4080"),
              "ram_gb": (16, 32, 64), "storage_gb": (512, 1024, 2048), "screen_inches": (15.6, 16.0, 17.3),
              "refresh_hz": (144, 165, 240)},
             '{screen_inches}" {gpu} {cpu} {ram_gb}GB', "gpu", ("black", "grey"), 8,
             "A high-refresh display and a dedicated GPU for gaming at high settings."),
        Leaf("Business Laptops", "BSL", LAPTOP_BRANDS, (699, 2499), (1200, 1900),
             {"cpu": LAPTOP_CPUS, "ram_gb": (8, 16, 32), "storage_gb": (256, 512, 1024),
              "screen_inches": (14.0, 15.6), "os": ("Windows 11 Pro",)},
             '{screen_inches}" {cpu} {ram_gb}GB {storage_gb}GB', "ram_gb", DARK_COLORS, 8,
             "Fingerprint reader, TPM 2.0 and a spill-resistant keyboard for the office fleet."),
        Leaf("Chromebooks", "CRB", {"Acer": ("Chromebook Plus 514",), "ASUS": ("Chromebook CX34",),
                                    "HP": ("Chromebook 14",), "Lenovo": ("IdeaPad Flex 5i Chromebook",)},
             (249, 699), (1100, 1600),
             {"ram_gb": (4, 8), "storage_gb": (64, 128, 256), "screen_inches": (11.6, 14.0), "os": ("ChromeOS",)},
             '{screen_inches}" {ram_gb}GB {storage_gb}GB', "storage_gb", DARK_COLORS, 4,
             "Boots in seconds and updates itself; made for schoolwork and the browser."),
    )),
    ("Computers", (
        Leaf("Desktop PCs", "DSK", {"HP": ("Pavilion Desktop", "Omen 45L"), "Dell": ("XPS Desktop", "OptiPlex 7010"),
                                    "Lenovo": ("ThinkCentre M90", "Legion Tower 5"), "Apple": ("Mac mini", "iMac 24")},
             (499, 3299), (4000, 14000),
             {"cpu": LAPTOP_CPUS, "ram_gb": (8, 16, 32, 64), "storage_gb": (512, 1024, 2048)},
             "{cpu} {ram_gb}GB {storage_gb}GB", "ram_gb", DARK_COLORS, 4,
             "Room to grow: spare bays, PCIe slots and front USB-C.", {"Apple": APPLE_LAPTOP}),
        Leaf("Monitors", "MON", {"Dell": ("UltraSharp U2724D", "S2721DGF"), "LG": ("UltraGear 27GR95QE", "UltraFine 32UN880"),
                                 "Samsung": ("Odyssey G7", "ViewFinity S8"), "ASUS": ("ProArt PA278QV", "ROG Swift"),
                                 "BenQ": ("PD2705U", "MOBIUZ EX2710Q")},
             (149, 1499), (3500, 9000),
             {"screen_inches": (24.0, 27.0, 32.0, 34.0), "resolution": ("1080p", "1440p", "4K"),
              "refresh_hz": (60, 75, 144, 165, 240), "panel": ("IPS", "VA", "OLED")},
             '{screen_inches}" {resolution} {refresh_hz}Hz {panel}', "resolution", DARK_COLORS, 8,
             "Factory-calibrated colours and a height-adjustable stand."),
    )),
    ("Phones", (
        Leaf("Smartphones", "SPH", PHONE_BRANDS, (179, 1699), (160, 240),
             {"storage_gb": (128, 256, 512, 1024), "ram_gb": (6, 8, 12, 16), "screen_inches": (6.1, 6.4, 6.7, 6.8),
              "os": ("Android 14",), "network": ("5G",)},
             "{storage_gb}GB {network}", "storage_gb", COLORS, 14,
             "A triple-camera phone with all-day battery and fast USB-C charging.",
             {"Apple": {"os": ("iOS 18",)}}),
        Leaf("Feature Phones", "FPH", {"Nokia": ("105", "225 4G", "3310"), "Doro": ("6880", "1381")},
             (19, 129), (75, 120), {"network": ("2G", "4G"), "battery_days": (7, 14, 25)},
             "{network}", None, ("black", "blue", "red"), 2,
             "Big keys, a loud speaker and a battery that lasts for weeks."),
    )),
    ("Tablets & E-readers", (
        Leaf("Tablets", "TAB", {"Apple": ("iPad", "iPad Air", "iPad Pro"), "Samsung": ("Galaxy Tab S9", "Galaxy Tab A9"),
                                "Lenovo": ("Tab P12", "Tab M11"), "Xiaomi": ("Pad 6",)},
             (149, 1599), (450, 700),
             {"storage_gb": (64, 128, 256, 512, 1024), "screen_inches": (10.9, 11.0, 12.4, 13.0),
              "connectivity": ("Wi-Fi", "Wi-Fi + 5G")},
             '{screen_inches}" {storage_gb}GB {connectivity}', "storage_gb", DARK_COLORS, 6,
             "Pen support and a laminated display for notes, films and sketches."),
        Leaf("E-readers", "ERD", {"Kobo": ("Clara BW", "Libra Colour", "Sage"), "Amazon": ("Kindle", "Kindle Paperwhite"),
                                  "PocketBook": ("Verse Pro", "InkPad 4")},
             (99, 329), (170, 300), {"storage_gb": (16, 32), "screen_inches": (6.0, 7.0, 8.0), "waterproof": ("IPX8",)},
             '{screen_inches}" {storage_gb}GB', "screen_inches", ("black", "white"), 2,
             "Glare-free E Ink with a warm front light for reading at night."),
    )),
    ("TVs", (
        Leaf("OLED TVs", "OLD", TV_BRANDS, (899, 4499), (14000, 32000),
             {"screen_inches": (48, 55, 65, 77), "resolution": ("4K",), "refresh_hz": (100, 120, 144),
              "hdr": ("Dolby Vision", "HDR10+")},
             '{screen_inches}" {resolution} OLED', "screen_inches", ("black",), 5,
             "Self-lit pixels, perfect blacks and four HDMI 2.1 ports for consoles."),
        Leaf("QLED TVs", "QLD", TV_BRANDS, (499, 2999), (11000, 30000),
             {"screen_inches": (43, 50, 55, 65, 75, 85), "resolution": ("4K",), "refresh_hz": (60, 100, 120)},
             '{screen_inches}" {resolution} QLED', "screen_inches", ("black", "silver"), 5,
             "Quantum-dot colour that stays bright in a sunny living room."),
        Leaf("LED TVs", "LED", TV_BRANDS, (179, 999), (5000, 22000),
             {"screen_inches": (32, 43, 50, 55, 65), "resolution": ("Full HD", "4K"), "refresh_hz": (50, 60)},
             '{screen_inches}" {resolution} Smart TV', "screen_inches", ("black",), 5,
             "A smart TV with every streaming app built in."),
        Leaf("Projectors", "PRJ", {"Epson": ("EH-TW7100", "EF-21"), "BenQ": ("W2710i", "GV31"), "XGIMI": ("Horizon S Pro", "MoGo 3 Pro")},
             (299, 2499), (1000, 7500), {"resolution": ("1080p", "4K"), "lumens": (500, 1200, 2400, 3000)},
             "{resolution} {lumens} lm", "lumens", DARK_COLORS, 2,
             "A 120-inch picture on any white wall, with keystone correction."),
    )),
    ("Audio", (
        Leaf("Headphones", "HPH", HEADPHONE_BRANDS, (49, 549), (180, 390),
             {"fit": ("Over-Ear", "On-Ear"), "wireless": ("yes",), "noise_cancelling": ("yes", "no"),
              "battery_hours": (20, 30, 40, 60)},
             "Wireless {fit} Headphones", "battery_hours", COLORS, 8,
             "Active noise cancelling that silences the open-plan office."),
        Leaf("Earbuds", "EBD", EARBUD_BRANDS, (29, 299), (40, 70),
             {"wireless": ("yes",), "noise_cancelling": ("yes", "no"), "battery_hours": (6, 8, 10),
              "water_resistance": ("IPX4", "IPX5", "IP57")},
             "True Wireless Earbuds", "battery_hours", COLORS, 8,
             "Tiny buds, a pocketable case and a snug fit for running."),
        Leaf("Bluetooth Speakers", "SPK", SPEAKER_BRANDS, (39, 449), (250, 6000),
             {"wireless": ("yes",), "battery_hours": (10, 12, 20, 24), "water_resistance": ("IP67", "IPX7")},
             "Portable Bluetooth Speaker", "battery_hours", COLORS, 6,
             "Waterproof, dustproof and loud enough for the beach."),
        Leaf("Soundbars", "SBR", {"Sonos": ("Arc Ultra", "Beam Gen 2", "Ray"), "Samsung": ("HW-Q990D", "HW-S60D"),
                                  "Bose": ("Smart Soundbar",), "Sony": ("Bravia Theatre Bar 8",)},
             (199, 1499), (1800, 9000), {"channels": ("2.0", "3.1", "5.1", "7.1.4"), "dolby_atmos": ("yes", "no")},
             "{channels} Soundbar", "channels", ("black", "white"), 3,
             "Dolby Atmos height channels and clear dialogue at low volume."),
    )),
    ("Cameras", (
        Leaf("Mirrorless Cameras", "MLC", {"Sony": ("Alpha 7 IV", "ZV-E10 II"), "Canon": ("EOS R6 Mark II", "EOS R50"),
                                           "Nikon": ("Z6 III", "Z fc"), "Fujifilm": ("X-T5", "X-S20")},
             (699, 3499), (390, 750), {"megapixels": (24, 26, 33, 40), "sensor": ("APS-C", "Full frame"),
                                       "video": ("4K30", "4K60", "6K")},
             "{megapixels}MP {sensor} Body", "megapixels", ("black", "silver"), 3,
             "In-body stabilisation and eye-tracking autofocus that never misses."),
        Leaf("Action Cameras", "ACT", {"GoPro": ("HERO13 Black", "HERO12 Black"), "DJI": ("Osmo Action 5 Pro", "Osmo Pocket 3"),
                                       "Insta360": ("Ace Pro 2", "X4")},
             (199, 549), (120, 200), {"video": ("4K60", "5.3K60", "8K30"), "waterproof_m": (10, 18, 20)},
             "{video} Action Camera", "video", ("black", "grey"), 2,
             "Waterproof to ten metres with horizon-levelled stabilisation."),
        Leaf("Drones", "DRN", {"DJI": ("Mini 4 Pro", "Air 3", "Neo")}, (199, 1599), (135, 720),
             {"flight_minutes": (18, 34, 46), "video": ("4K60", "4K100")},
             "{video} Drone", "flight_minutes", ("grey",), 1,
             "Under 249 g, obstacle sensing and a 20 km video link."),
    )),
    ("Gaming", (
        Leaf("Consoles", "CON", {"Sony": ("PlayStation 5 Slim", "PlayStation 5 Pro"), "Microsoft": ("Xbox Series X", "Xbox Series S"),
                                 "Nintendo": ("Switch OLED", "Switch Lite"), "Valve": ("Steam Deck OLED",)},
             (199, 799), (300, 4500), {"storage_gb": (64, 512, 1024, 2048), "edition": ("Standard", "Digital", "Bundle")},
             "{storage_gb}GB {edition} Edition", "storage_gb", ("black", "white"), 3,
             "Fast SSD loading and 4K HDR gaming at up to 120 fps."),
        Leaf("Controllers", "CTL", {"Sony": ("DualSense", "DualSense Edge"), "Microsoft": ("Xbox Wireless Controller", "Elite Series 2"),
                                    "8BitDo": ("Ultimate", "Pro 2"), "Nintendo": ("Switch Pro Controller",)},
             (29, 219), (180, 350), {"wireless": ("yes", "no"), "platform": ("PlayStation", "Xbox", "PC", "Switch")},
             "{platform} Controller", None, COLORS, 3,
             "Hall-effect sticks, remappable back buttons and a 40-hour battery."),
        Leaf("Gaming Headsets", "GHS", {"SteelSeries": ("Arctis Nova 7", "Arctis Nova Pro"), "HyperX": ("Cloud III", "Cloud Alpha"),
                                        "Razer": ("BlackShark V2", "Kraken V4"), "Logitech": ("G Pro X 2",)},
             (49, 349), (250, 380), {"wireless": ("yes", "no"), "surround": ("stereo", "7.1")},
             "{surround} Gaming Headset", "surround", ("black", "white"), 3,
             "A detachable boom mic and memory-foam ear cushions for long sessions."),
    )),
    ("Wearables", (
        Leaf("Smartwatches", "SWT", {"Apple": ("Watch Series 10", "Watch Ultra 2", "Watch SE"), "Samsung": ("Galaxy Watch7", "Galaxy Watch Ultra"),
                                     "Garmin": ("Venu 3", "Fenix 8", "Forerunner 265"), "Google": ("Pixel Watch 3",)},
             (199, 999), (30, 75), {"case_mm": (40, 41, 44, 45, 47, 49), "gps": ("yes",), "lte": ("yes", "no")},
             "{case_mm}mm Smartwatch", "case_mm", COLORS, 4,
             "Heart-rate, sleep and SpO2 tracking with a bright always-on display."),
        Leaf("Fitness Trackers", "FIT", {"Fitbit": ("Charge 6", "Inspire 3"), "Xiaomi": ("Smart Band 9",), "Garmin": ("vivosmart 5",)},
             (39, 179), (20, 35), {"battery_days": (7, 10, 14, 21), "gps": ("yes", "no")},
             "Fitness Tracker", "battery_days", COLORS, 2,
             "Steps, sleep and workouts on your wrist for two weeks per charge."),
    )),
    ("Smart Home", (
        Leaf("Smart Speakers", "SSP", {"Amazon": ("Echo", "Echo Dot", "Echo Show 8"), "Google": ("Nest Mini", "Nest Audio", "Nest Hub"),
                                       "Apple": ("HomePod", "HomePod mini"), "Sonos": ("Era 100", "Era 300")},
             (39, 499), (300, 4500), {"assistant": ("Alexa", "Google Assistant", "Siri"), "display": ("yes", "no")},
             "Smart Speaker", None, ("black", "white", "grey", "blue"), 3,
             "Room-filling sound that controls your lights and thermostat by voice."),
        Leaf("Security Cameras", "SEC", {"Ring": ("Stick Up Cam", "Spotlight Cam Plus"), "Arlo": ("Pro 5S", "Essential"),
                                         "Eufy": ("SoloCam S340", "Indoor Cam C220"), "Google": ("Nest Cam",)},
             (39, 299), (150, 700), {"resolution": ("1080p", "2K", "4K"), "power": ("battery", "wired", "solar")},
             "{resolution} Security Camera", "resolution", ("black", "white"), 3,
             "Colour night vision, person detection and local storage with no subscription."),
        Leaf("Smart Lighting", "LGT", {"Philips Hue": ("White and Color Ambiance", "Play Light Bar", "Go"), "IKEA": ("Tradfri",),
                                       "Nanoleaf": ("Shapes", "Essentials"), "LIFX": ("Color",)},
             (14, 249), (60, 900), {"fitting": ("E27", "GU10", "E14", "strip"), "protocol": ("Zigbee", "Matter", "Wi-Fi")},
             "{fitting} Smart Bulb", None, ("white",), 3,
             "Sixteen million colours, schedules and Matter support."),
        Leaf("Robot Vacuums", "VAC", {"Roborock": ("S8 MaxV Ultra", "Q7 Max"), "iRobot": ("Roomba Combo j9+", "Roomba i5"),
                                      "Dreame": ("L20 Ultra", "D10 Plus")},
             (199, 1499), (3000, 12000), {"mopping": ("yes", "no"), "self_emptying": ("yes", "no"), "suction_pa": (4000, 6000, 10000)},
             "{suction_pa}Pa Robot Vacuum", "suction_pa", ("black", "white"), 2,
             "Lidar navigation, no-go zones and a self-emptying dock."),
    )),
    ("Components", (
        Leaf("Graphics Cards", "GPU", {"ASUS": ("ROG Strix", "TUF Gaming", "Dual"), "MSI": ("Gaming X Trio", "Ventus 2X"),
                                       "Gigabyte": ("AORUS Master", "Windforce OC"), "Sapphire": ("Pulse", "Nitro+")},
             (229, 2199), (700, 2300), {"chipset": ("RTX 4060", "RTX 4070 Super", "RTX 4080 Super", "RX 7800 XT", "RX 7900 XTX"),
                                        "memory_gb": (8, 12, 16, 24)},
             "{chipset} {memory_gb}GB", "chipset", ("black",), 5,
             "A triple-fan cooler that stays quiet under load."),
        Leaf("Processors", "CPU", {"AMD": ("Ryzen 5 7600X", "Ryzen 7 7800X3D", "Ryzen 9 9950X"),
                                   "Intel": ("Core i5-14600K", "Core i7-14700K", "Core Ultra 9 285K")},
             (149, 699), (80, 120), {"cores": (6, 8, 14, 16, 20, 24), "socket": ("AM5", "LGA1700", "LGA1851")},
             "{cores}-Core Desktop Processor", "cores", ("silver",), 3,
             "Unlocked multiplier and boost clocks above 5 GHz."),
        Leaf("SSDs", "SSD", {"Samsung": ("990 PRO", "990 EVO", "870 EVO"), "WD": ("Black SN850X", "Blue SN580"),
                             "Crucial": ("T700", "P3 Plus", "MX500"), "Kingston": ("KC3000", "NV2")},
             (39, 599), (8, 60), {"storage_gb": (500, 1000, 2000, 4000), "interface": ("PCIe 4.0 NVMe", "PCIe 5.0 NVMe", "SATA")},
             "{storage_gb}GB {interface} SSD", "storage_gb", ("black",), 6,
             "Sequential reads up to 7,000 MB/s with a five-year warranty."),
        Leaf("Memory", "RAM", {"Corsair": ("Vengeance", "Dominator Titanium"), "Kingston": ("FURY Beast", "FURY Renegade"),
                               "G.Skill": ("Trident Z5", "Ripjaws S5"), "Crucial": ("Pro",)},
             (39, 449), (40, 120), {"capacity_gb": (16, 32, 64, 96), "ddr": ("DDR4", "DDR5"), "speed_mhz": (3200, 5600, 6000, 6400)},
             "{capacity_gb}GB {ddr}-{speed_mhz} Kit", "capacity_gb", ("black", "white"), 4,
             "Low-profile heat spreaders and one-click XMP / EXPO profiles."),
    )),
    ("Networking", (
        Leaf("Routers", "RTR", {"TP-Link": ("Archer AX73", "Archer BE800"), "ASUS": ("RT-AX88U Pro", "RT-BE96U"),
                                "Netgear": ("Nighthawk RAX50", "Nighthawk RS700S")},
             (59, 699), (500, 1800), {"wifi": ("Wi-Fi 6", "Wi-Fi 6E", "Wi-Fi 7"), "ports": (4, 5, 8)},
             "{wifi} Router", "wifi", ("black", "white"), 3,
             "Whole-home coverage with WPA3 and a built-in VPN server."),
        Leaf("Mesh Wi-Fi", "MSH", {"TP-Link": ("Deco X55", "Deco BE85"), "Netgear": ("Orbi 970", "Orbi RBK763S"),
                                   "Eero": ("Pro 6E", "6+")},
             (129, 1499), (900, 3200), {"wifi": ("Wi-Fi 6", "Wi-Fi 6E", "Wi-Fi 7"), "pack": (2, 3)},
             "{wifi} Mesh System ({pack}-pack)", "pack", ("white",), 2,
             "No more dead zones: one network name for the whole house."),
        Leaf("Network Switches", "SWC", {"TP-Link": ("TL-SG108", "TL-SG116E"), "Netgear": ("GS308", "GS316"),
                                         "Ubiquiti": ("UniFi Switch Lite 8", "UniFi Switch Pro 24")},
             (19, 499), (300, 3500), {"ports": (5, 8, 16, 24), "managed": ("yes", "no")},
             "{ports}-Port Gigabit Switch", "ports", ("black", "white", "grey"), 2,
             "Fanless metal case, plug-and-play."),
    )),
    ("Accessories", (
        Leaf("Chargers", "CHG", CHARGER_BRANDS, (12, 129), (50, 350), {"watts": (20, 30, 45, 65, 100, 140), "ports": (1, 2, 3, 4)},
             "{watts}W USB-C Charger", "watts", ("black", "white"), 9,
             "GaN technology: laptop power in a charger the size of a phone brick."),
        Leaf("Cables", "CBL", CABLE_BRANDS, (6, 49), (20, 150), {"connector": USB, "length_m": (0.5, 1.0, 2.0, 3.0)},
             "{connector} Cable {length_m}m", "length_m", ("black", "white", "grey", "red"), 12,
             "Braided nylon, tested for 30,000 bends."),
        Leaf("Phone Cases", "CAS", CASE_BRANDS, (9, 59), (25, 80),
             {"compatible_with": ("iPhone 16", "iPhone 16 Pro", "iPhone 15", "Galaxy S24", "Pixel 9"),
              "material": ("silicone", "TPU", "leather", "polycarbonate")},
             "Case for {compatible_with}", None, COLORS, 12,
             "Raised edges protect the camera; MagSafe-compatible."),
        Leaf("Keyboards", "KBD", {"Logitech": ("MX Keys S", "MX Mechanical", "K380"), "Keychron": ("K2", "Q1 Pro", "V1"),
                                  "Razer": ("BlackWidow V4",), "Corsair": ("K70 RGB",)},
             (29, 229), (400, 1200), {"layout": ("AZERTY", "QWERTY", "QWERTZ"), "switch": ("membrane", "red", "brown", "blue"),
                                      "wireless": ("yes", "no")},
             "{layout} Keyboard", None, DARK_COLORS, 5,
             "Backlit keys, three Bluetooth hosts and USB-C charging."),
        Leaf("Mice", "MSE", {"Logitech": ("MX Master 3S", "G502 X", "Pebble 2", "MX Anywhere 3S"), "Razer": ("DeathAdder V3", "Basilisk V3"),
                             "Microsoft": ("Bluetooth Mouse",)},
             (15, 169), (60, 140), {"dpi": (4000, 8000, 16000, 26000), "wireless": ("yes", "no")},
             "{dpi} DPI Mouse", "dpi", COLORS, 5,
             "Silent clicks and a scroll wheel that spins through 1,000 lines a second."),
        Leaf("Power Banks", "PWB", POWER_BANK_BRANDS, (19, 149), (180, 650), {"capacity_mah": (5000, 10000, 20000, 25000), "watts": (20, 30, 65, 100)},
             "{capacity_mah}mAh Power Bank", "capacity_mah", ("black", "white", "blue"), 5,
             "Charges a phone three times over and tops up a laptop on the go."),
        Leaf("Memory Cards", "MEM", {"SanDisk": ("Extreme", "Ultra", "Extreme PRO"), "Samsung": ("EVO Plus", "PRO Plus"),
                                     "Kingston": ("Canvas Go! Plus",)},
             (7, 129), (2, 10), {"storage_gb": (64, 128, 256, 512, 1024), "format": ("microSDXC", "SDXC"), "speed_class": ("U3 V30", "V60", "V90")},
             "{storage_gb}GB {format} {speed_class}", "storage_gb", ("black", "red"), 5,
             "Fast enough for 4K video and burst photography."),
    )),
)  # fmt: skip

LEAVES: tuple[tuple[str, Leaf], ...] = tuple(
    (parent, leaf) for parent, leaves in CATEGORY_TREE for leaf in leaves
)

# Words shoppers type; each matches some seeded names, descriptions or SKUs.
SEARCH_TERMS = (
    "wireless", "4K", "USB-C", "gaming", "noise", "OLED", "Galaxy", "iPhone", "ThinkPad", "MacBook",
    "SSD", "charger", "Bluetooth", "waterproof", "Pro", "Ultra", "mesh", "mechanical", "case", "Sony",
    "Samsung", "Logitech", "battery", "HDR", "Wi-Fi 7", "RTX", "DDR5", "smart", "camera", "TS-00",
)  # fmt: skip
